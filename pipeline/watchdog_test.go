package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// gateSource sends one record, then waits for a signal before sending a second, then
// waits for ctx: a source that stalls twice.
type gateSource struct{ resume chan struct{} }

func (s *gateSource) Run(ctx context.Context, out chan<- *Record) error {
	for i := 0; i < 2; i++ {
		r := NewRecord("t/dev", nil, time.Now(), nil)
		r.Device, r.Time, r.Values = "dev", time.Unix(int64(i), 0).UTC(), []float64{1}
		out <- r
		select {
		case <-s.resume:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}
func (s *gateSource) Close() error { return nil }

var lastGate *gateSource

func init() {
	Register(Spec{Kind: KindInput, Name: "gate", Build: func(c *Conf, env *Env) (any, error) {
		lastGate = &gateSource{resume: make(chan struct{})}
		return lastGate, nil
	}})
}

// syncBuffer is a log sink safe for the watchdog's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
	}
}

// A source that goes quiet makes the watchdog report one stall (gauge 1, counter 1, one
// WARN); a reading clears the gauge; the next silence is a second stall.
func TestWatchdogReportsEachStallOnce(t *testing.T) {
	cfg, err := Parse("p.yaml", []byte("site: s\nfields: [v]\nwatchdog: 20ms\ninput: {type: gate}\nstore: {type: test}\nsummarize: {type: test}\n"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	p, err := Build(cfg, Env{Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	m := p.Env().Metrics
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	waitFor(t, "first stall reported", func() bool { return testutil.ToFloat64(m.Stalled) == 1 })
	// Stay stalled for several watchdog periods: still one stall.
	time.Sleep(100 * time.Millisecond)
	if n := testutil.ToFloat64(m.Stalls); n != 1 {
		t.Fatalf("edgepipe_stalls_total = %v during one stall, want 1", n)
	}
	lastGate.resume <- struct{}{}
	waitFor(t, "stall cleared by a reading", func() bool { return testutil.ToFloat64(m.Stalled) == 0 })
	waitFor(t, "second stall reported", func() bool { return testutil.ToFloat64(m.Stalls) == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "msg=\"no reading for "); n != 2 {
		t.Fatalf("%d WARN lines \"no reading for\", want 2:\n%s", n, logs)
	}
	if len(lastSink.got) != 2 {
		t.Fatalf("sink got %d records through the watchdog relay, want 2", len(lastSink.got))
	}
}

// With the default watchdog 0 nothing is reported.
func TestWatchdogOffByDefault(t *testing.T) {
	p := build(t, "site: s\nfields: [v]\ninput: {type: test, count: 3}\nstore: {type: test}\nsummarize: {type: test}\n")
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(p.Env().Metrics.Stalls); n != 0 {
		t.Fatalf("edgepipe_stalls_total = %v with the watchdog off", n)
	}
}
