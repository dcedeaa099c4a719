package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Test components: a bounded source of n records, an operator that doubles values and
// dead-letters negative ones, a sink that records what it committed, and a summarizer
// that counts.

const (
	fieldCount = "count"
	fieldScale = "scale"
)

type testSource struct {
	n     int
	acked *atomic.Int64
}

func (s *testSource) Run(ctx context.Context, out chan<- *Record) error {
	for i := 0; i < s.n; i++ {
		r := NewRecord("t/dev", nil, time.Now(), NewAck(func() { s.acked.Add(1) }))
		r.Device = "dev"
		r.Time = time.Unix(int64(i), 0).UTC()
		r.Values = []float64{float64(i - 2)}
		select {
		case out <- r:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
func (s *testSource) Close() error { return nil }

type testOp struct{ scale float64 }

func (o *testOp) Run(ctx context.Context, in <-chan *Record, out chan<- *Record) error {
	for r := range in {
		if !r.Dead() {
			if r.Values[0] < 0 {
				r.Fail("test: negative")
			} else {
				r.Values[0] *= o.scale
			}
		}
		out <- r
	}
	return nil
}

type testSink struct {
	mu   sync.Mutex
	got  []*Record
	dead int
	env  *Env
}

func (s *testSink) Run(ctx context.Context, in <-chan *Record) error {
	for r := range in {
		s.mu.Lock()
		if r.Dead() {
			s.dead++
		} else {
			s.got = append(s.got, r)
		}
		s.mu.Unlock()
		s.env.Summarizer.Add([]*Record{r})
		r.Done()
	}
	return nil
}
func (s *testSink) Close() error { return nil }

type testSummarizer struct{ n atomic.Int64 }

func (t *testSummarizer) Add(recs []*Record) []Summary { t.n.Add(int64(len(recs))); return nil }
func (t *testSummarizer) Drain() []Summary             { return nil }

var (
	lastSource *testSource
	lastSink   *testSink
)

func init() {
	Register(Spec{Kind: KindInput, Name: "test", Fields: []Field{{Name: fieldCount, Type: TypeInt, Default: 10, Description: "records"}},
		Build: func(c *Conf, env *Env) (any, error) {
			if c.Int(fieldCount) < 0 {
				return nil, c.Errorf(fieldCount, "must be ≥ 0")
			}
			lastSource = &testSource{n: c.Int(fieldCount), acked: &atomic.Int64{}}
			return lastSource, nil
		}})
	Register(Spec{Kind: KindOperator, Name: "scale", Fields: []Field{{Name: fieldScale, Type: TypeFloat, Required: true, Description: "factor"}},
		Build: func(c *Conf, env *Env) (any, error) { return &testOp{scale: c.Float(fieldScale)}, nil }})
	Register(Spec{Kind: KindStore, Name: "test", Build: func(c *Conf, env *Env) (any, error) {
		lastSink = &testSink{env: env}
		return lastSink, nil
	}})
	Register(Spec{Kind: KindSummarize, Name: "test", Build: func(c *Conf, env *Env) (any, error) { return &testSummarizer{}, nil }})
}

func TestRunBoundedSourceDrainsAndAcksEverything(t *testing.T) {
	cfg, err := Parse("p.yaml", []byte(`
site: lab
fields: [v]
input: {type: test, count: 50}
pipeline:
  - {type: scale, scale: 10}
store: {type: test}
summarize: {type: test}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(cfg, Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lastSource.acked.Load(); got != 50 {
		t.Fatalf("acked %d of 50", got)
	}
	if len(lastSink.got) != 48 || lastSink.dead != 2 {
		t.Fatalf("stored %d, dead %d; want 48 and 2", len(lastSink.got), lastSink.dead)
	}
	// Order is preserved and the operator ran: record i has value (i-2)*10.
	for i, r := range lastSink.got {
		if want := float64(i) * 10; r.Values[0] != want {
			t.Fatalf("record %d value %v, want %v", i, r.Values[0], want)
		}
	}
	if p.Env().Site != "lab" || p.Env().Summarizer.(*testSummarizer).n.Load() != 50 {
		t.Fatalf("env not wired: site %q", p.Env().Site)
	}
}

func TestParseReportsEveryErrorWithPosition(t *testing.T) {
	_, err := Parse("bad.yaml", []byte(`site: lab
fields: [v]
colour: red
input: {type: test, count: many}
pipeline:
  - type: scale
  - type: nosuch
  - {type: scale, scale: 2, extra: 1}
store: {type: test}
drain_timeout: soon
`))
	if err == nil {
		t.Fatal("want errors")
	}
	want := []string{
		`bad.yaml:3:1: unknown key "colour"`,
		`bad.yaml:4:28: input test: count: "many" is not an integer`,
		`bad.yaml:6:5: pipeline scale: missing required key "scale"`,
		`bad.yaml:7:11: pipeline: unknown type "nosuch"`,
		`bad.yaml:8:29: pipeline scale: unknown key "extra"`,
		`bad.yaml:10:16: drain_timeout: "soon" is not a duration`,
		`bad.yaml:1:1: missing required section "summarize"`,
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != len(want) {
		t.Errorf("%d errors, want %d:\n%s", n, len(want), got)
	}
}

func TestBuildErrorsCarryFieldPosition(t *testing.T) {
	cfg, err := Parse("p.yaml", []byte("site: s\nfields: [v]\ninput: {type: test, count: -1}\nstore: {type: test}\nsummarize: {type: test}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(cfg, Env{})
	if err == nil || err.Error() != "p.yaml:3:28: input test: count: must be ≥ 0" {
		t.Fatalf("got %v", err)
	}
}

func TestEnvInterpolation(t *testing.T) {
	t.Setenv("EP_COUNT", "7")
	t.Setenv("EP_SITE", "") // empty counts as unset for ${VAR:-default}, as in the shell
	cfg, err := Parse("p.yaml", []byte("site: ${EP_SITE:-west}\nfields: [v]\ninput: {type: test, count: \"${EP_COUNT}\"}\nstore: {type: test}\nsummarize: {type: test}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Top.String(KeySite) != "west" || cfg.Input.Int(fieldCount) != 7 {
		t.Fatalf("site %q count %d", cfg.Top.String(KeySite), cfg.Input.Int(fieldCount))
	}
	_, err = Parse("p.yaml", []byte("site: ${EP_UNSET_VAR}\nfields: [v]\ninput: {type: test}\nstore: {type: test}\nsummarize: {type: test}\n"))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:1:7: site: environment variable EP_UNSET_VAR is not set") {
		t.Fatalf("got %v", err)
	}
}

func TestSplitAcksOnceAllPartsDone(t *testing.T) {
	var acked int
	r := NewRecord("t", []byte("[1,2,3]"), time.Now(), NewAck(func() { acked++ }))
	parts := r.Split(3)
	parts[0].Done()
	parts[2].Done()
	if acked != 0 {
		t.Fatal("acked before every part was done")
	}
	parts[1].Done()
	if acked != 1 {
		t.Fatalf("acked %d times, want 1", acked)
	}
}

// stuckSink never commits: it waits until the drain timeout cancels it. Its outbox always
// holds one entry that nothing forwards.
type stuckSink struct{}

func (stuckSink) Run(ctx context.Context, in <-chan *Record) error { <-ctx.Done(); return ctx.Err() }
func (stuckSink) Close() error                                     { return nil }
func (stuckSink) Outbox() Outbox                                   { return stuckOutbox{} }

type stuckOutbox struct{}

func (stuckOutbox) Pending(context.Context, int) ([]OutboxEntry, error) { return nil, nil }
func (stuckOutbox) Remove(context.Context, []int64) error               { return nil }
func (stuckOutbox) Len(context.Context) (int, error)                    { return 1, nil }
func (stuckOutbox) Notify() <-chan struct{}                             { return nil }

type idleForwarder struct{}

func (idleForwarder) Run(ctx context.Context, ob Outbox) error { <-ctx.Done(); return nil }
func (idleForwarder) Close() error                             { return nil }

// flushFails is an operator whose final flush fails after its input closed.
type flushFails struct{}

func (flushFails) Run(ctx context.Context, in <-chan *Record, out chan<- *Record) error {
	for r := range in {
		out <- r
	}
	return errors.New("flush failed")
}

func init() {
	Register(Spec{Kind: KindStore, Name: "stuck", Build: func(c *Conf, env *Env) (any, error) { return stuckSink{}, nil }})
	Register(Spec{Kind: KindOutput, Name: "idle", Build: func(c *Conf, env *Env) (any, error) { return idleForwarder{}, nil }})
	Register(Spec{Kind: KindOperator, Name: "flushfails", Build: func(c *Conf, env *Env) (any, error) { return flushFails{}, nil }})
}

func build(t *testing.T, yaml string) *Pipeline {
	t.Helper()
	cfg, err := Parse("p.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(cfg, Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Regression: after a drain timeout, Run waited for ever for an outbox that never
// empties (it reused the drain timer, which had already fired).
func TestRunReturnsAfterDrainTimeoutWithOutboxLeft(t *testing.T) {
	p := build(t, "site: s\nfields: [v]\ndrain_timeout: 50ms\ninput: {type: test, count: 3}\nstore: {type: stuck}\nsummarize: {type: test}\noutput: {type: idle}\n")
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still blocked 10 s after a 50 ms drain timeout")
	}
	if n := lastSource.acked.Load(); n != 0 {
		t.Fatalf("%d records acked by a sink that committed nothing", n)
	}
}

// Regression: a clean end of a bounded source was sometimes reported as "store: stopped
// early: <nil>" (the sink finished before Run saw the source's result).
func TestRunBoundedEndIsNeverAnError(t *testing.T) {
	for i := 0; i < 300; i++ {
		p := build(t, "site: s\nfields: [v]\ninput: {type: test, count: 0}\nstore: {type: test}\nsummarize: {type: test}\n")
		if err := p.Run(context.Background()); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

// Regression: an operator error during the drain (its final flush) was dropped and Run
// returned nil.
func TestRunReportsOperatorErrorDuringDrain(t *testing.T) {
	p := build(t, "site: s\nfields: [v]\ninput: {type: test, count: 5}\npipeline: [{type: flushfails}]\nstore: {type: test}\nsummarize: {type: test}\n")
	err := p.Run(context.Background())
	if err == nil || err.Error() != "flushfails: flush failed" {
		t.Fatalf("Run = %v, want flushfails: flush failed", err)
	}
}

// Lint reports parse errors (unknown keys, bounds) and the build errors of the components
// that parsed, together and sorted by position.
func TestLintReportsParseAndBuildErrorsTogether(t *testing.T) {
	errs := Lint("l.yaml", []byte(`site: s
fields: [v, v]
buffer: 0
input: {type: test, count: -1}
pipeline:
  - {type: scale, scale: 2, colour: red}
store: {type: test}
summarize: {type: test}
`))
	want := []string{
		`l.yaml:2:9: fields: "v" is listed twice`,
		`l.yaml:3:9: buffer: 0 is below the minimum 1`,
		`l.yaml:4:28: input test: count: must be ≥ 0`,
		`l.yaml:6:29: pipeline scale: unknown key "colour"`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i].Error(), w)
		}
	}
	if errs := Lint("ok.yaml", []byte("site: s\nfields: [v]\ninput: {type: test}\nstore: {type: test}\nsummarize: {type: test}\n")); errs != nil {
		t.Fatalf("good file: %v", errs)
	}
}
