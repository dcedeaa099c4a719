package natsconn

import (
	"strings"
	"testing"
	"time"
)

// TestHealthConnectedOrOutboxUnderLimit checks the output's readiness: ready while
// connected; while not, ready only as long as edgepipe_outbox_depth is below
// ready_outbox_limit (never with a limit of 0).
func TestHealthConnectedOrOutboxUnderLimit(t *testing.T) {
	cfg := testConfig("nats://127.0.0.1:4222")
	cfg.readyOutbox = 2
	env := testEnv(&syncBuffer{})
	f := newForwarder(cfg, env) // never connected
	for _, tc := range []struct {
		depth  float64
		ok     bool
		detail string
	}{
		{0, true, "not connected; the outbox holds 0 summaries, fewer than ready_outbox_limit 2"},
		{1, true, "not connected; the outbox holds 1 summaries, fewer than ready_outbox_limit 2"},
		{2, false, "not connected and the outbox holds 2 summaries (ready_outbox_limit 2)"},
	} {
		env.Metrics.OutboxDepth.Set(tc.depth)
		if c := f.Health(); c.Name != "nats" || c.OK != tc.ok || c.Detail != tc.detail {
			t.Errorf("depth %v: %+v, want ok %v, %q", tc.depth, c, tc.ok, tc.detail)
		}
	}
	f.cfg.readyOutbox = 0
	env.Metrics.OutboxDepth.Set(0)
	if c := f.Health(); c.OK {
		t.Errorf("ready_outbox_limit 0, not connected: %+v, want not ready", c)
	}

	s := startServer(t)
	cfg.readyOutbox = 0
	r := startForwarder(t, cfg.withURL(s.URL()), newMemOutbox())
	waitHealth(t, r.f, func(ok bool, detail string) bool { return ok && detail == "connected" })
	s.Close()
	waitHealth(t, r.f, func(ok bool, detail string) bool { return !ok && strings.HasPrefix(detail, "not connected") })
}

// withURL returns cfg with another server URL.
func (c config) withURL(url string) config { c.url = url; return c }

// waitHealth polls f.Health until cond holds, failing after waitFor.
func waitHealth(t *testing.T, f *forwarder, cond func(ok bool, detail string) bool) {
	t.Helper()
	for deadline := time.Now().Add(waitFor); ; time.Sleep(10 * time.Millisecond) {
		c := f.Health()
		if cond(c.OK, c.Detail) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %+v after %s", c, waitFor)
		}
	}
}
