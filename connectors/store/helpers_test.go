package store

import (
	"context"
	"math"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edgepipe/edgepipe/pipeline"
)

// t0 is the event time the tests' readings start at (a whole minute).
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// acks counts source acks fired by records' ack handles.
type acks struct{ n atomic.Int64 }

// rec returns a live, scored reading of device at t0+offset whose ack increments a.
func (a *acks) rec(device string, offset time.Duration, vals ...float64) *pipeline.Record {
	r := pipeline.NewRecord("sensors/"+device, []byte(`{}`), t0.Add(offset), pipeline.NewAck(func() { a.n.Add(1) }))
	r.Device, r.Time, r.Values = device, t0.Add(offset), vals
	r.Score, r.Model = 0.25, "m1"
	return r
}

// dead returns a dead-letter record with reason and payload whose ack increments a.
func (a *acks) dead(reason string, payload string) *pipeline.Record {
	return pipeline.NewRecord("sensors/bad", []byte(payload), t0, pipeline.NewAck(func() { a.n.Add(1) })).Fail(reason)
}

// testEnv returns an env with fresh metrics and the given summarizer (may be nil).
func testEnv(sz pipeline.Summarizer) *pipeline.Env {
	return &pipeline.Env{Site: "plant1", Metrics: pipeline.NewMetrics(), Summarizer: sz}
}

// openSink opens a sink on path with the default options.
func openSink(t testing.TB, path string, env *pipeline.Env) *Sink {
	t.Helper()
	s, err := New(Options{Path: path, Batch: DefaultBatch, Synchronous: SyncFull, BusyTimeout: DefaultBusyTimeout}, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runAll runs a fresh sink on path over recs (then closes its input and the sink).
func runAll(t *testing.T, path string, env *pipeline.Env, recs ...*pipeline.Record) {
	t.Helper()
	s := openSink(t, path, env)
	defer s.Close()
	in := make(chan *pipeline.Record, len(recs))
	for _, r := range recs {
		in <- r
	}
	close(in)
	if err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "edge.db") }

// openRO opens path with the read API.
func openRO(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func counts(t *testing.T, path string) Counts {
	t.Helper()
	c, err := openRO(t, path).Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// metric returns the value of a counter or gauge, or a histogram's sample count.
func metric(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("metric %v is not a counter, gauge or histogram", c.Desc())
	return math.NaN()
}

func summariesOf(t *testing.T, path, device string) []pipeline.Summary {
	t.Helper()
	var out []pipeline.Summary
	if err := openRO(t, path).Summaries(context.Background(), device, func(s pipeline.Summary) error {
		out = append(out, s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// commit is commitPages with the batch's page estimate, as Run commits a part.
func (s *Sink) commit(ctx context.Context, batch []*pipeline.Record) ([]*pipeline.Record, commitCounts, error) {
	var need int64
	if s.gate.budget != nil {
		need = recordsPages(batch, s.late(), s.gate.page())
	}
	return s.commitPages(ctx, batch, need)
}
