package pipeline

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// watchdog makes a silent stall visible: it relays records from the source to the first
// stage, notes when the last one arrived, and when none has arrived for `after` it logs
// a WARN "no reading for …" once, sets Metrics.Stalled to 1 and counts the stall in
// Metrics.Stalls; the first record after the stall sets Stalled back to 0. A stall is
// anything that stops records reaching the pipeline: sensors or broker silent, the MQTT
// connection down, or a stuck stage downstream (the relay then cannot hand records on,
// and the source stops taking them).
type watchdog struct {
	after time.Duration
	log   *slog.Logger
	m     *Metrics
	// last is the arrival time (UnixNano) of the newest record, or the start time.
	last atomic.Int64
}

// newWatchdog returns a watchdog that reports a stall after `after` (> 0) without a
// record.
func newWatchdog(after time.Duration, log *slog.Logger, m *Metrics) *watchdog {
	w := &watchdog{after: after, log: log, m: m}
	w.last.Store(time.Now().UnixNano())
	return w
}

// relay hands every record of in to out, in order, noting its arrival, and closes out
// when in closes. When ctx (the engine's hard stop) ends it drops the records it still
// gets (unacked: the broker redelivers them) until in closes.
func (w *watchdog) relay(ctx context.Context, in <-chan *Record, out chan<- *Record) {
	defer close(out)
	for r := range in {
		w.last.Store(time.Now().UnixNano())
		select {
		case out <- r:
		case <-ctx.Done():
		}
	}
}

// watch checks every after/4 whether a record arrived within `after`, until ctx ends.
func (w *watchdog) watch(ctx context.Context) {
	tick := time.NewTicker(max(w.after/4, time.Millisecond))
	defer tick.Stop()
	stalled := false
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			idle := now.Sub(time.Unix(0, w.last.Load()))
			switch {
			case idle >= w.after && !stalled:
				stalled = true
				w.m.Stalled.Set(1)
				w.m.Stalls.Inc()
				w.log.Warn("no reading for "+idle.Round(time.Millisecond).String()+": the pipeline is stalled (sensors, broker, connection, or a stuck stage)", "watchdog", w.after)
			case idle < w.after && stalled:
				stalled = false
				w.m.Stalled.Set(0)
				w.log.Info("readings resumed after a stall")
			}
		}
	}
}
