package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkEmit measures what Emit adds to a channel send (a context lookup and an atomic
// add): compare Counted with Plain, a bare select on the same buffered channel.
func BenchmarkEmit(b *testing.B) {
	r := NewRecord("t", nil, time.Now(), nil)
	for _, bc := range []struct {
		name string
		send func(ctx context.Context, out chan<- *Record, r *Record) error
		ctx  context.Context
	}{
		{"Plain", func(ctx context.Context, out chan<- *Record, r *Record) error {
			select {
			case out <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, context.Background()},
		{"Counted", Emit, context.WithValue(context.Background(), stageCounterKey{}, prometheus.NewCounter(prometheus.CounterOpts{Name: "c"}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(bc.ctx)
			defer cancel()
			out := make(chan *Record, 1)
			for b.Loop() {
				if err := bc.send(ctx, out, r); err != nil {
					b.Fatal(err)
				}
				<-out
			}
		})
	}
}

// BenchmarkRelay measures a relay's hand-off of one record between two goroutines (the
// cost an operator that is not an Emitter pays per record, besides its own send).
func BenchmarkRelay(b *testing.B) {
	in, out := make(chan *Record, handoff), make(chan *Record, 1024)
	go relay(context.Background(), in, out, prometheus.NewCounter(prometheus.CounterOpts{Name: "c"}))
	r := NewRecord("t", nil, time.Now(), nil)
	done := make(chan struct{})
	go func() {
		for range out {
		}
		close(done)
	}()
	for b.Loop() {
		in <- r
	}
	close(in)
	<-done
}
