package pipeline

import "fmt"

// Check is the outcome of one readiness check (edgepipe run's /readyz).
type Check struct {
	// Name is what was checked: "pipeline", or a component such as "mqtt", "store", "nats".
	Name string `json:"name"`
	// OK is true when the check passes.
	OK bool `json:"ok"`
	// Detail says why it fails, or the state that makes it pass.
	Detail string `json:"detail"`
}

// HealthChecker is implemented by components that can tell whether they are able to do
// their work now: the MQTT source (connected and subscribed), the store (its last
// transaction committed), the NATS output (connected, or its outbox under a limit).
type HealthChecker interface {
	// Health reports the component's state. It must be quick (no I/O that can block)
	// and safe to call from any goroutine, before, while and after the pipeline runs.
	Health() Check
}

// Lifecycle states of a Pipeline, for Readiness.
const (
	stateBuilt int32 = iota
	stateRunning
	stateDraining
	stateStopped
)

// Readiness returns the pipeline's own check ("pipeline": running, not draining) followed
// by the check of every component that implements HealthChecker (source, operators,
// store, output), and whether all of them pass. It is safe to call concurrently with Run.
func (p *Pipeline) Readiness() (checks []Check, ready bool) {
	own := Check{Name: "pipeline"}
	switch p.state.Load() {
	case stateBuilt:
		own.Detail = "not started"
	case stateRunning:
		own.OK, own.Detail = true, "running"
	case stateDraining:
		own.Detail = "draining: no longer taking messages"
	default:
		own.Detail = "stopped"
	}
	checks = append(checks, own)
	ready = own.OK
	for _, h := range p.checkers {
		c := h.Health()
		checks = append(checks, c)
		ready = ready && c.OK
	}
	return checks, ready
}

// String formats a check as one line: "name ok: detail" or "name FAIL: detail".
func (c Check) String() string {
	status := "ok"
	if !c.OK {
		status = "FAIL"
	}
	return fmt.Sprintf("%s %s: %s", c.Name, status, c.Detail)
}
