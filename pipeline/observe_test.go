package pipeline

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Test components for the observation tests: a source that sends n records and then
// waits for the drain, reporting its health, and a store that calls Hooks.Committed like
// the SQLite store, with a settable health and a reload counter.

type heldSource struct {
	n       int
	arrival time.Duration // how long ago each record "arrived" (Received)
	healthy atomic.Bool
}

func (s *heldSource) Run(ctx context.Context, out chan<- *Record) error {
	for i := 0; i < s.n; i++ {
		r := NewRecord("t/dev", nil, time.Now().Add(-s.arrival), nil)
		r.Device, r.Time, r.Values = "dev", time.Unix(int64(i), 0).UTC(), []float64{float64(i)}
		select {
		case out <- r:
		case <-ctx.Done():
			return nil
		}
	}
	<-ctx.Done()
	return nil
}
func (s *heldSource) Close() error { return nil }
func (s *heldSource) Health() Check {
	return Check{Name: "held", OK: s.healthy.Load(), Detail: "test source"}
}

type hookedSink struct {
	env       *Env
	committed atomic.Int64
	healthy   atomic.Bool
	reloads   atomic.Int64
	reloadErr error
}

func (s *hookedSink) Run(ctx context.Context, in <-chan *Record) error {
	for r := range in {
		dups := 0
		recs := []*Record{r}
		if r.Values[0] == 0 { // the first reading is "already stored": a duplicate
			dups, recs = 1, nil
		}
		s.env.Hooks.Committed(recs, dups)
		s.committed.Add(1)
		r.Done()
	}
	return nil
}
func (s *hookedSink) Close() error { return nil }
func (s *hookedSink) Health() Check {
	return Check{Name: "hooked", OK: s.healthy.Load(), Detail: "test store"}
}
func (s *hookedSink) Reload() error { s.reloads.Add(1); return s.reloadErr }

// emitOp passes records on with Emit (an Emitter: counted without a relay).
type emitOp struct{}

func (emitOp) EmitsCounted() {}
func (emitOp) Run(ctx context.Context, in <-chan *Record, out chan<- *Record) error {
	for r := range in {
		if err := Emit(ctx, out, r); err != nil {
			return err
		}
	}
	return nil
}

var (
	lastHeld   *heldSource
	lastHooked *hookedSink
)

func init() {
	Register(Spec{Kind: KindInput, Name: "held", Fields: []Field{{Name: fieldCount, Type: TypeInt, Default: 10, Description: "records"}},
		Build: func(c *Conf, env *Env) (any, error) {
			lastHeld = &heldSource{n: c.Int(fieldCount), arrival: 2 * time.Second}
			lastHeld.healthy.Store(true)
			return lastHeld, nil
		}})
	Register(Spec{Kind: KindOperator, Name: "emit", Build: func(c *Conf, env *Env) (any, error) { return emitOp{}, nil }})
	Register(Spec{Kind: KindStore, Name: "hooked", Build: func(c *Conf, env *Env) (any, error) {
		lastHooked = &hookedSink{env: env}
		lastHooked.healthy.Store(true)
		return lastHooked, nil
	}})
}

// startHeld builds and runs a pipeline of the held source, two scale operators (relayed)
// around an emit operator (an Emitter) and the hooked store, with committed called once per committed record, and returns it with
// the function that drains it and returns Run's error.
func startHeld(t *testing.T, n int, committed func(recs []*Record, dups int)) (*Pipeline, func() error) {
	t.Helper()
	cfg, err := Parse("p.yaml", []byte(`
site: lab
fields: [v]
input: {type: held, count: `+strconv.Itoa(n)+`}
pipeline:
  - {type: scale, scale: 2}
  - {type: emit}
  - {type: scale, scale: 3}
store: {type: hooked}
summarize: {type: test}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(cfg, Env{Hooks: Hooks{Committed: committed}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(cancel)
	return p, func() error { cancel(); return <-done }
}

// TestStageRecordsAndEndToEndLatency runs 120 records through two operators of one type
// (counted by relays) around an Emitter (counted by Emit) and a store that finds the
// first one already stored: every stage counts 120 under its name ("scale", "emit",
// "scale#2"), the store stage too (the duplicate included), and the
// end-to-end histogram observes the 119 newly committed ones, each about 2 s after its
// arrival; the program's own Committed hook still runs.
func TestStageRecordsAndEndToEndLatency(t *testing.T) {
	var hooked atomic.Int64
	p, stop := startHeld(t, 120, func(recs []*Record, dups int) { hooked.Add(int64(len(recs) + dups)) })
	waitFor(t, "120 committed", func() bool { return lastHooked.committed.Load() == 120 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	m := p.Env().Metrics
	for _, stage := range []string{"scale", "emit", "scale#2", "store"} {
		if got := testutil.ToFloat64(m.StageRecords.WithLabelValues(stage)); got != 120 {
			t.Errorf("edgepipe_stage_records_total{stage=%q} = %v, want 120", stage, got)
		}
	}
	if hooked.Load() != 120 {
		t.Errorf("the program's Committed hook saw %d records, want 120", hooked.Load())
	}
	var count uint64
	var sum float64
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "edgepipe_e2e_latency_seconds" {
			count, sum = mf.GetMetric()[0].GetHistogram().GetSampleCount(), mf.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	if count != 119 {
		t.Fatalf("edgepipe_e2e_latency_seconds count %d, want 119 (the duplicate is not newly committed)", count)
	}
	if mean := sum / float64(count); mean < 2 || mean > 3 {
		t.Fatalf("mean end-to-end latency %.3f s, want about 2 s (records arrived 2 s before they were sent)", mean)
	}
}

// TestReadinessFollowsLifecycleAndComponents checks Readiness before, during and after Run,
// and that a failing component check makes the pipeline not ready.
func TestReadinessFollowsLifecycleAndComponents(t *testing.T) {
	cfg, err := Parse("p.yaml", []byte("site: lab\nfields: [v]\ninput: {type: held, count: 1}\nstore: {type: hooked}\nsummarize: {type: test}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(cfg, Env{})
	if err != nil {
		t.Fatal(err)
	}
	checks, ready := p.Readiness()
	if ready || len(checks) != 3 || checks[0].String() != "pipeline FAIL: not started" {
		t.Fatalf("before Run: ready %v, checks %v", ready, checks)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "running", func() bool { _, ok := p.Readiness(); return ok })
	checks, _ = p.Readiness()
	if got := []string{checks[0].String(), checks[1].String(), checks[2].String()}; got[0] != "pipeline ok: running" ||
		got[1] != "held ok: test source" || got[2] != "hooked ok: test store" {
		t.Fatalf("running: checks %q", got)
	}
	lastHooked.healthy.Store(false)
	if checks, ready := p.Readiness(); ready || checks[2].OK {
		t.Fatalf("with the store failing: ready %v, checks %v", ready, checks)
	}
	lastHooked.healthy.Store(true)
	lastHeld.healthy.Store(false)
	if _, ready := p.Readiness(); ready {
		t.Fatal("ready with the source failing")
	}
	lastHeld.healthy.Store(true)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if checks, ready := p.Readiness(); ready || checks[0].String() != "pipeline FAIL: stopped" {
		t.Fatalf("after Run: ready %v, checks %v", ready, checks)
	}
}

// TestReloadCallsReloaders checks that Pipeline.Reload reaches the components that
// implement Reloader and returns their error.
func TestReloadCallsReloaders(t *testing.T) {
	p, stop := startHeld(t, 3, nil)
	if err := p.Reload(); err != nil || lastHooked.reloads.Load() != 1 {
		t.Fatalf("Reload: %v, the store reloaded %d times, want nil and 1", err, lastHooked.reloads.Load())
	}
	lastHooked.reloadErr = errors.New("bad model file")
	if err := p.Reload(); err == nil || err.Error() != "bad model file" || lastHooked.reloads.Load() != 2 {
		t.Fatalf("Reload with a failing component: %v (reloads %d), want its error", err, lastHooked.reloads.Load())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
