package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/operators"
	"github.com/edgepipe/edgepipe/pipeline"
)

// tumbling returns the real tumbling summarizer (1-minute windows, field "v",
// dead-lettering late readings) counting into m.
func tumbling(t *testing.T, lateness time.Duration, closeOnDrain bool, m *pipeline.Metrics) *operators.Tumbling {
	t.Helper()
	s, err := operators.NewTumbling(operators.TumblingOptions{Site: "plant1", Fields: []string{"v"}, Window: time.Minute,
		Lateness: lateness, CloseOnDrain: closeOnDrain, DeadLetterLate: true, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unique gives r a payload of its own, as a real message has (the dead-letter key is
// topic + payload hash + part).
func unique(r *pipeline.Record) *pipeline.Record {
	r.Payload = fmt.Appendf(nil, `{"t":%d,"v":%v}`, r.Time.UnixNano(), r.Values)
	return r
}

func deadLettersOf(t *testing.T, path string) []DeadLetter {
	t.Helper()
	var out []DeadLetter
	if err := openRO(t, path).DeadLetters(context.Background(), 0, func(d DeadLetter) error {
		out = append(out, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Lateness 10 s, 1-minute windows. Readings of d1 at 0, 30, 65, 50 (out of order, within
// the lateness: accepted), 75 (the watermark 65 s closes [0, 60)), 40 (late:
// dead-lettered), 130 s (closes [60, 120)). With all seven in one transaction and with
// one transaction each, the store holds six readings and one dead letter with the exact
// reason, [0, 60) summarises 0, 30 and 50 s, [60, 120) 65 and 75 s, and the late reading
// is counted (edgepipe_late_readings_total, dead letters "late") but stored as no reading.
func TestSinkDeadLettersLateReadings(t *testing.T) {
	for _, batch := range []int{DefaultBatch, 1} {
		path := dbPath(t)
		env := testEnv(nil)
		env.Summarizer = tumbling(t, 10*time.Second, false, env.Metrics)
		var a acks
		in := make(chan *pipeline.Record, 7)
		for i, sec := range []int{0, 30, 65, 50, 75, 40, 130} {
			in <- unique(a.rec("d1", time.Duration(sec)*time.Second, float64(i+1)))
		}
		close(in)
		s, err := New(Options{Path: path, Batch: batch, Synchronous: SyncFull, BusyTimeout: DefaultBusyTimeout}, env)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		s.Close()

		sums := summariesOf(t, path, "d1")
		if len(sums) != 2 || sums[0].StartMs != t0.UnixMilli() || sums[0].Count != 3 || *sums[0].Fields["v"].Mean != (1+2+4)/3.0 ||
			sums[1].Count != 2 || *sums[1].Fields["v"].Mean != 4 || sums[0].DeadLetters+sums[1].DeadLetters != 0 {
			t.Fatalf("batch %d: summaries %+v, want [0, 60 s) count 3 mean 7/3, [60, 120 s) count 2 mean 4", batch, sums)
		}
		dls := deadLettersOf(t, path)
		want := `late: event time 2024-03-01T12:00:40Z is 25s behind the watermark 2024-03-01T12:01:05Z of device "d1" ` +
			`(window [2024-03-01T12:00:00Z, 2024-03-01T12:01:00Z) closed), allowed lateness 10s`
		if len(dls) != 1 || dls[0].Reason != want || dls[0].Device != "d1" || !dls[0].Time.Equal(t0.Add(40*time.Second)) {
			t.Fatalf("batch %d: dead letters %+v, want one with reason %q", batch, dls, want)
		}
		if c := counts(t, path); c.Inferences != 6 || c.Summarized != 5 {
			t.Fatalf("batch %d: counts %+v, want 6 readings, 5 summarised", batch, c)
		}
		m := env.Metrics
		if late, dl, stored := metric(t, m.Late), metric(t, m.DeadLetters.WithLabelValues("late")), metric(t, m.Stored); late != 1 || dl != 1 || stored != 6 || a.n.Load() != 7 {
			t.Fatalf("batch %d: late %v, late dead letters %v, stored %v, acks %d; want 1, 1, 6, 7", batch, late, dl, stored, a.n.Load())
		}
	}
}

// A late reading for a window that closed empty is dead-lettered, and a restart, which
// rebuilds the windows after the last summary from the store, neither summarises that
// window from it nor counts it as late again. A redelivered reading whose window has
// since closed is a duplicate, not a late dead letter.
func TestSinkLateReadingSurvivesRestart(t *testing.T) {
	path := dbPath(t)
	var a acks
	env := testEnv(nil)
	env.Summarizer = tumbling(t, 0, false, env.Metrics)
	// [0, 60) closes with 10 s; [60, 120) has no reading when 130 s closes it; 70 s is late.
	runAll(t, path, env, unique(a.rec("d2", 10*time.Second, 1)), unique(a.rec("d2", 130*time.Second, 2)),
		unique(a.rec("d2", 70*time.Second, 3)), unique(a.rec("d2", 10*time.Second, 1)))
	if late, dups := metric(t, env.Metrics.Late), metric(t, env.Metrics.Duplicates); late != 1 || dups != 1 {
		t.Fatalf("run 1: late %v, duplicates %v; want 1 and 1", late, dups)
	}
	if dls := deadLettersOf(t, path); len(dls) != 1 || !dls[0].Time.Equal(t0.Add(70*time.Second)) {
		t.Fatalf("run 1: dead letters %+v, want the reading at 70 s", dls)
	}

	env2 := testEnv(nil)
	env2.Summarizer = tumbling(t, 0, true, env2.Metrics)
	runAll(t, path, env2)
	sums := summariesOf(t, path, "d2")
	if len(sums) != 2 || sums[0].StartMs != t0.UnixMilli() || sums[0].Count != 1 ||
		sums[1].StartMs != t0.Add(2*time.Minute).UnixMilli() || sums[1].Count != 1 || sums[1].DeadLetters != 0 {
		t.Fatalf("after restart: summaries %+v, want [0, 60 s) and [120, 180 s), one reading each", sums)
	}
	if late := metric(t, env2.Metrics.Late); late != 0 {
		t.Fatalf("restart counted %v late readings, want 0", late)
	}
}
