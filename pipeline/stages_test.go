package pipeline

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recStage is a RecordStage that appends its tag to each record's topic and adds 1 to
// its value, or dead-letters a value equal to failAt. Its Run panics: the engine must
// call Process instead.
type recStage struct {
	tag    string
	failAt float64
}

func (s *recStage) Run(context.Context, <-chan *Record, chan<- *Record) error {
	panic("Run of a fused RecordStage")
}

func (s *recStage) Process(r *Record) {
	r.Topic += s.tag
	if r.Values[0] == s.failAt {
		r.Fail("rec: fail at " + strconv.FormatFloat(s.failAt, 'g', -1, 64))
		return
	}
	r.Values[0]++
}

// recStages counts the rec operators built, to tag them in build order.
var recStages int

func init() {
	Register(Spec{Kind: KindOperator, Name: "rec", Fields: []Field{{Name: fieldScale, Type: TypeFloat, Default: -100.0, Description: "value to fail at"}},
		Build: func(c *Conf, env *Env) (any, error) {
			recStages++
			return &recStage{tag: "/" + strconv.Itoa(recStages-1), failAt: c.Float(fieldScale)}, nil
		}})
}

// Consecutive RecordStages run fused (their Run is never called) around an ordinary
// operator: every record goes through every stage in pipeline order, a record
// dead-lettered by one stage passes the later ones untouched, order is kept, every
// stage counts every record, and every message is acked.
func TestRecordStagesRunFused(t *testing.T) {
	recStages = 0
	p := build(t, `site: s
fields: [v]
input: {type: test, count: 10}
pipeline:
  - {type: rec}
  - {type: rec, scale: 1}
  - {type: scale, scale: 2}
  - {type: rec}
  - {type: rec}
store: {type: test}
summarize: {type: test}
`)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Source values i-2; rec: i-1; rec (fails at 1, i = 2): i; scale: 2i; rec, rec: 2i+2.
	if lastSink.dead != 1 || len(lastSink.got) != 9 {
		t.Fatalf("%d dead, %d stored, want 1 and 9", lastSink.dead, len(lastSink.got))
	}
	k := 0
	for i := range 10 {
		if i == 2 {
			continue
		}
		r := lastSink.got[k]
		k++
		if r.Values[0] != float64(2*i+2) || r.Topic != "t/dev/0/1/2/3" || r.Time.Unix() != int64(i) {
			t.Errorf("record %d: value %v topic %q time %d, want %d, t/dev/0/1/2/3, %d", i, r.Values[0], r.Topic, r.Time.Unix(), 2*i+2, i)
		}
	}
	for _, stage := range []string{"rec", "rec#2", "scale", "rec#3", "rec#4"} {
		if got := testutil.ToFloat64(p.Env().Metrics.StageRecords.WithLabelValues(stage)); got != 10 {
			t.Errorf("edgepipe_stage_records_total{stage=%q} = %v, want 10", stage, got)
		}
	}
	if n := lastSource.acked.Load(); n != 10 {
		t.Errorf("%d messages acked, want 10", n)
	}
}

// runStages returns ctx's error when ctx is cancelled while its output is full or its
// input empty (the drain timeout), and nil when its input closes.
func TestRunStagesStops(t *testing.T) {
	stages := []RecordStage{&recStage{tag: "/a", failAt: -1}, &recStage{tag: "/b", failAt: -1}}
	counts := []prometheus.Counter{prometheus.NewCounter(prometheus.CounterOpts{Name: "a"}), prometheus.NewCounter(prometheus.CounterOpts{Name: "b"})}
	for _, full := range []bool{true, false} {
		in, out := make(chan *Record, 1), make(chan *Record) // nobody reads out
		if full {
			in <- &Record{Values: []float64{0}}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runStages(ctx, stages, counts, in, out) }()
		time.Sleep(10 * time.Millisecond)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("output full %v: %v, want context.Canceled", full, err)
		}
	}
	if got := testutil.ToFloat64(counts[0]); got != 1 {
		t.Fatalf("first stage counted %v records, want 1 (the one that could not be sent)", got)
	}
	in, out := make(chan *Record, 1), make(chan *Record, 1)
	in <- &Record{Values: []float64{0}}
	close(in)
	if err := runStages(context.Background(), stages, counts, in, out); err != nil {
		t.Fatal(err)
	}
	if r := <-out; r.Topic != "/a/b" || r.Values[0] != 2 {
		t.Fatalf("got topic %q value %v, want /a/b and 2", r.Topic, r.Values[0])
	}
}

type ackCounter struct{ n int }

func (a *ackCounter) Ack() { a.n++ }

// NewAckedRecord acks its message once, after every record split from it is done.
func TestAckedRecordAcksOnceAllPartsDone(t *testing.T) {
	var msg ackCounter
	r := NewAckedRecord("t", []byte("[1,2,3]"), time.Now(), &msg)
	if r.Topic != "t" || string(r.Payload) != "[1,2,3]" || r.Score == r.Score {
		t.Fatalf("record %+v: want topic t, the payload and a NaN score", r)
	}
	parts := r.Split(3)
	parts[0].Done()
	parts[2].Done()
	if msg.n != 0 {
		t.Fatal("acked before every part was done")
	}
	parts[1].Done()
	if msg.n != 1 {
		t.Fatalf("acked %d times, want 1", msg.n)
	}
}
