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
	const msg = `level=WARN msg="summarize: late readings are stored but in no summary (their window had closed); raise lateness to include them" `
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
