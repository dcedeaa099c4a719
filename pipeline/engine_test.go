package pipeline

import (
	"context"
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
