package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// BenchmarkSinkCommit measures readings/s committed in transactions of 512 new readings
// (4 fields each) with each synchronous mode.
func BenchmarkSinkCommit(b *testing.B) {
	for _, mode := range []string{SyncFull, SyncNormal} {
		b.Run(mode, func(b *testing.B) {
			s, err := New(Options{Path: filepath.Join(b.TempDir(), "bench.db"), Batch: 512, Synchronous: mode, BusyTimeout: DefaultBusyTimeout},
				&pipeline.Env{Metrics: pipeline.NewMetrics()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			batch := make([]*pipeline.Record, 512)
			ctx := context.Background()
			n := 0
			for b.Loop() {
				for i := range batch {
					r := pipeline.NewRecord("sensors/d1", nil, time.Now(), nil)
					r.Device, r.Time = "d1", t0.Add(time.Duration(n)*time.Millisecond)
					r.Values, r.Score, r.Model = []float64{21.5, 40.25, 410, float64(n % 97)}, 0.01, "m1"
					batch[i] = r
					n++
				}
				if _, _, err := s.commit(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}
