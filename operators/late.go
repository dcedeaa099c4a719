package operators

import (
	"log/slog"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// lateLogEvery is the least time between two late-reading log lines of one summarizer.
const lateLogEvery = time.Minute

// lateLog counts a summarizer's late readings and reports them at most once per
// lateLogEvery, so that a replay of old data (thousands of late readings a minute) logs
// one line a minute instead of one per batch. It is not safe for concurrent use: the
// Tumbling summarizer guards it with its mutex.
type lateLog struct {
	log     *slog.Logger
	now     func() time.Time
	metrics *pipeline.Metrics // nil: not counted

	total   int64     // late readings since the start
	pending int64     // late readings since the last line
	example string    // a device of the pending readings
	last    time.Time // when the last line was logged; zero before the first
}

// add counts one late reading of device.
func (l *lateLog) add(device string) {
	if l.metrics != nil {
		l.metrics.Late.Inc()
	}
	l.total++
	if l.pending++; l.pending == 1 {
		l.example = device
	}
}

// flush logs the pending count, with an example device, when there is one and
// lateLogEvery has passed since the last line (or force is set, at drain).
func (l *lateLog) flush(force bool) {
	if l.pending == 0 {
		return
	}
	now := l.now()
	if !force && !l.last.IsZero() && now.Sub(l.last) < lateLogEvery {
		return
	}
	l.log.Warn("summarize: late readings, in no summary (their window had closed); raise lateness to include them",
		"late", l.pending, "example_device", l.example, "late_total", l.total)
	l.pending, l.example, l.last = 0, "", now
}
