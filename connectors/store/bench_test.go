package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// BenchmarkSinkCommit measures readings/s committed in transactions of 512 new readings
// (4 fields each) with each synchronous mode, and with FULL under a 1 GiB size limit
// (the writeGate measures the database before each transaction).
func BenchmarkSinkCommit(b *testing.B) {
	for _, c := range []struct {
		name, mode string
		maxSize    int64
	}{{SyncFull, SyncFull, 0}, {SyncNormal, SyncNormal, 0}, {SyncFull + "/max_size", SyncFull, 1 << 30}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := New(Options{Path: filepath.Join(b.TempDir(), "bench.db"), Batch: 512, Synchronous: c.mode, BusyTimeout: DefaultBusyTimeout,
				Retention: Retention{MaxSize: c.maxSize}}, &pipeline.Env{Metrics: pipeline.NewMetrics()})
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
