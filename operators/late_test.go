package operators

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgepipe/edgepipe/pipeline"
)

// TestTumblingLateLogIsRateLimited: a replay of old data makes every Add batch late; the
// summarizer logs at most one line a minute with the count since the last line and an
// example device, Late counts every late reading, and Drain logs what is left.
func TestTumblingLateLogIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	clock := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	m := pipeline.NewMetrics()
	s, err := NewTumbling(TumblingOptions{Fields: []string{"temp", "hum"}, Window: time.Minute, Log: log,
		Now: func() time.Time { return clock }, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	// Watermarks at 300 s close [0, 60) for devices a and b: readings at 10 s are late.
	s.Add([]*pipeline.Record{reading("a", 300, 1, 1), reading("b", 300, 1, 1)})
	late := func(devs ...string) {
		var recs []*pipeline.Record
		for _, d := range devs {
			recs = append(recs, reading(d, 10, 1, 1))
		}
		if out := s.Add(recs); len(out) != 0 {
			t.Fatalf("late readings closed %+v", out)
		}
	}
	const msg = `level=WARN msg="summarize: late readings, in no summary (their window had closed); raise lateness to include them" `
	lines := func() []string { return strings.Split(strings.TrimSpace(buf.String()), "\n") }
	step := func(advance time.Duration, devs []string, want []string) {
		t.Helper()
		clock = clock.Add(advance)
		late(devs...)
		if got := lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("after +%v late %v: log\n%s\nwant\n%s", advance, devs, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	first := msg + "late=2 example_device=b late_total=2"
	second := msg + "late=4 example_device=a late_total=6"
	step(0, []string{"b", "a"}, []string{first})
	step(30*time.Second, []string{"a", "b"}, []string{first})
	step(29*time.Second, []string{"b"}, []string{first}) // 59 s after the first line
	step(time.Second, []string{"b"}, []string{first, second})
	step(10*time.Second, []string{"b", "b", "b"}, []string{first, second})
	if got := s.Late(); got != 9 {
		t.Errorf("Late() = %d, want 9", got)
	}
	if got := testutil.ToFloat64(m.Late); got != 9 {
		t.Errorf("edgepipe_late_readings_total = %v, want 9", got)
	}
	s.Drain()
	if got := lines(); len(got) != 3 || got[2] != msg+"late=3 example_device=b late_total=9" {
		t.Errorf("after Drain: log\n%s\nwant a third line with late=3", strings.Join(got, "\n"))
	}
	s.Drain() // nothing pending: no line
	if got := len(lines()); got != 3 {
		t.Errorf("second Drain logged: %d lines, want 3", got)
	}
}

// lateBatch runs the sink's order of calls over one batch: CheckLate on every record in
// order (a late one is dead-lettered with the reason), then Add of the whole batch.
func lateBatch(s *Tumbling, recs ...*pipeline.Record) []pipeline.Summary {
	for _, r := range recs {
		if reason, late := s.CheckLate(r); late {
			r.Fail(reason)
		}
	}
	return s.Add(recs)
}

// TestTumblingCheckLate: 1-minute windows, lateness 10 s. Readings at 50, 65, 55 s are
// all accepted (the watermark 55 s has not reached 60 s); 75 s moves it to 65 s, which
// closes [0, 60); 58 s is then late, with the exact reason; 70 s is in the open window.
// One batch of all six gives the same answers and summaries as six batches of one, and
// the late reading counts in Late, not in any window.
func TestTumblingCheckLate(t *testing.T) {
	secs := []float64{50, 65, 55, 75, 58, 70}
	temps := []float64{1, 2, 3, 4, 100, 5}
	wantReason := `late: event time 2023-11-14T22:13:58Z is 7s behind the watermark 2023-11-14T22:14:05Z of device "a" ` +
		`(window [2023-11-14T22:13:00Z, 2023-11-14T22:14:00Z) closed), allowed lateness 10s`
	for _, oneByOne := range []bool{false, true} {
		m := pipeline.NewMetrics()
		s, err := NewTumbling(TumblingOptions{Fields: []string{"temp", "hum"}, Window: time.Minute, Lateness: 10 * time.Second, DeadLetterLate: true, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		var recs []*pipeline.Record
		for i, sec := range secs {
			recs = append(recs, reading("a", sec, temps[i], 0))
		}
		var out []pipeline.Summary
		if oneByOne {
			for _, r := range recs {
				out = append(out, lateBatch(s, r)...)
			}
		} else {
			out = lateBatch(s, recs...)
		}
		for i, r := range recs {
			want := ""
			if secs[i] == 58 {
				want = wantReason
			}
			if r.DeadLetter != want {
				t.Fatalf("oneByOne=%v: reading at %vs: dead letter %q, want %q", oneByOne, secs[i], r.DeadLetter, want)
			}
		}
		if len(out) != 1 || out[0].StartMs != base.UnixMilli() || out[0].Count != 2 || out[0].DeadLetters != 0 ||
			val(out[0].Fields["temp"].Mean) != 2 || val(out[0].Fields["temp"].Max) != 3 {
			t.Fatalf("oneByOne=%v: summaries %+v, want [0, 60 s) with count 2 (temps 1 and 3), no dead letter", oneByOne, out)
		}
		if s.Late() != 1 || testutil.ToFloat64(m.Late) != 1 {
			t.Fatalf("oneByOne=%v: Late() = %d, metric %v; want 1", oneByOne, s.Late(), testutil.ToFloat64(m.Late))
		}
		// Asking again (a retried transaction) gives the same answer.
		if reason, late := s.CheckLate(reading("a", 58, 100, 0)); !late || reason != wantReason {
			t.Fatalf("second CheckLate = %q, %v", reason, late)
		}
		s.opts.CloseOnDrain = true
		if out := s.Drain(); len(out) != 1 || out[0].Count != 3 || val(out[0].Fields["temp"].Mean) != (2+4+5)/3.0 {
			t.Fatalf("oneByOne=%v: drained %+v, want [60, 120 s) with count 3", oneByOne, out)
		}
	}
}

// TestTumblingCheckLateOrderInBatch: a batch holding a reading that moves the watermark
// and then an older one refuses the older one, as if they came one by one; in the other
// order both are accepted. Dead letters are never late and do not move the watermark.
// Without DeadLetterLate nothing is reported late.
func TestTumblingCheckLateOrderInBatch(t *testing.T) {
	for _, c := range []struct {
		secs     []float64
		wantLate []bool
	}{
		{[]float64{125, 30}, []bool{false, true}},
		{[]float64{30, 125}, []bool{false, false}},
	} {
		s, err := NewTumbling(TumblingOptions{Fields: []string{"temp", "hum"}, Window: time.Minute, DeadLetterLate: true})
		if err != nil {
			t.Fatal(err)
		}
		off, err := NewTumbling(TumblingOptions{Fields: []string{"temp", "hum"}, Window: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		off.Add([]*pipeline.Record{reading("a", 500, 1, 1)})
		if _, late := off.CheckLate(reading("a", 30, 1, 1)); late {
			t.Fatal("without DeadLetterLate, CheckLate reported a late reading")
		}
		dead := deadAt("a", 500)
		if _, late := s.CheckLate(dead); late {
			t.Fatal("a dead letter was checked late")
		}
		for i, sec := range c.secs {
			if _, late := s.CheckLate(reading("a", sec, 1, 1)); late != c.wantLate[i] {
				t.Fatalf("batch %v: reading at %vs late = %v, want %v", c.secs, sec, late, c.wantLate[i])
			}
		}
	}
}
