package pipeline

import (
	"context"
	"syscall"
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

// nopStage is a RecordStage that does nothing.
type nopStage struct{}

func (nopStage) Run(ctx context.Context, in <-chan *Record, out chan<- *Record) error {
	for r := range in {
		if err := Emit(ctx, out, r); err != nil {
			return err
		}
	}
	return nil
}
func (nopStage) Process(*Record) {}

// BenchmarkRecordStages passes records through four stages that do nothing, run as the
// engine runs RecordStages (Fused: one goroutine) and as it runs other Emitters
// (Separate: a goroutine and a channel each): ns and CPU ns per record.
func BenchmarkRecordStages(b *testing.B) {
	const n, buf = 4, 1024
	for _, fused := range []bool{true, false} {
		name := "Separate"
		if fused {
			name = "Fused"
		}
		b.Run(name, func(b *testing.B) {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c"})
			ctx := context.WithValue(context.Background(), stageCounterKey{}, c)
			in := make(chan *Record, buf)
			out := in
			if fused {
				out = make(chan *Record, buf)
				go func() {
					runStages(ctx, []RecordStage{nopStage{}, nopStage{}, nopStage{}, nopStage{}}, []prometheus.Counter{c, c, c, c}, in, out)
					close(out)
				}()
			} else {
				for range n {
					next := make(chan *Record, buf)
					go func(in <-chan *Record) { nopStage{}.Run(ctx, in, next); close(next) }(out)
					out = next
				}
			}
			done := make(chan struct{})
			go func() {
				for range out {
				}
				close(done)
			}()
			r := NewRecord("t", nil, time.Now(), nil)
			cpu0 := cpuNow(b)
			for b.Loop() {
				in <- r
			}
			close(in)
			<-done
			b.ReportMetric(float64((cpuNow(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuNow returns the CPU time (user + system) the process has used so far.
func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
