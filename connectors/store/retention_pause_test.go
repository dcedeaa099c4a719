package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// maxPruneStall bounds the longest a reading may wait for its commit while the pruner
// works: generous for a shared 2-core machine with an fsync per commit, yet far below
// the seconds the whole pruning takes, so a pruner holding the writers for its whole
// pass fails the test. On a machine so loaded that commits without pruning already
// take long, the bound is 5 times the longest of those.
const maxPruneStall = 250 * time.Millisecond

// ingestLatencies sends readings to a running sink one at a time, each after the
// previous one was acked, until stop returns true (checked after each ack) and at least
// min were sent, and returns every reading's send-to-ack latency.
func ingestLatencies(t *testing.T, in chan<- *pipeline.Record, min int, stop func() bool) []time.Duration {
	t.Helper()
	acked := make(chan struct{}, 1)
	var out []time.Duration
	for i := 0; len(out) < min || !stop(); i++ {
		r := pipeline.NewRecord("sensors/live", []byte(`{}`), time.Now(), pipeline.NewAck(func() { acked <- struct{}{} }))
		r.Device, r.Time, r.Values, r.Score, r.Model = "live", t0.Add(time.Duration(i)*time.Millisecond), []float64{1, 2, 3, float64(i)}, 0.1, "m1"
		start := time.Now()
		in <- r
		select {
		case <-acked:
		case <-time.After(10 * time.Second):
			t.Fatalf("reading %d not acked after 10 s", i)
		}
		out = append(out, time.Since(start))
	}
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// TestPruningDoesNotBlockIngest prunes 200 000 readings past their max age while a
// producer keeps committing readings one at a time. Every reading committed during the
// pruning waits at most maxPruneStall, and many are committed while it runs; a run
// without a backlog gives the baseline.
func TestPruningDoesNotBlockIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("prunes 200 000 rows")
	}
	const backlog = 200_000
	ret := Retention{ReadingsMaxAge: time.Hour, Interval: time.Hour}
	run := func(path string, env *pipeline.Env, prepare func(*Sink)) (in chan *pipeline.Record, wait func()) {
		s := retentionSink(t, path, env, ret)
		prepare(s)
		in = make(chan *pipeline.Record)
		done := make(chan error, 1)
		go func() { done <- s.Run(context.Background(), in) }()
		return in, func() {
			close(in)
			if err := <-done; err != nil {
				t.Error(err)
			}
			s.Close()
		}
	}

	in, wait := run(dbPath(t), testEnv(nil), func(*Sink) {})
	base := ingestLatencies(t, in, 300, func() bool { return true })
	wait()

	env := testEnv(nil)
	in, wait = run(dbPath(t), env, func(s *Sink) {
		insertReadings(t, s.db, "old", 0, backlog, time.Now().Add(-2*time.Hour).UnixNano())
		if _, err := s.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil { // not the first commit's work
			t.Fatal(err)
		}
	})
	pruned := func() float64 { return metric(t, env.Metrics.PrunedRows.WithLabelValues("inferences", reasonAge)) }
	start := time.Now()
	// Every reading acked before the last pruning batch was counted ran during the pruning.
	during := ingestLatencies(t, in, 1, func() bool { return pruned() >= backlog })
	took := time.Since(start)
	wait()
	if got := pruned(); got != backlog {
		t.Fatalf("pruned %v readings, want %d", got, backlog)
	}
	if len(during) < 20 {
		t.Fatalf("only %d readings committed while pruning for %v: ingest was blocked", len(during), took)
	}
	worst := slices.Max(during)
	t.Logf("baseline: %d commits, p50 %v, p99 %v, max %v", len(base), percentile(base, .5), percentile(base, .99), slices.Max(base))
	t.Logf("pruning %d rows took %v in %v transactions: %d commits meanwhile, p50 %v, p99 %v, max %v",
		backlog, took.Round(time.Millisecond), metric(t, env.Metrics.PruneSeconds), len(during), percentile(during, .5), percentile(during, .99), worst)
	if bound := max(maxPruneStall, 5*slices.Max(base)); worst > bound {
		t.Fatalf("a reading waited %v for its commit while pruning, over %v", worst, bound)
	}
}
