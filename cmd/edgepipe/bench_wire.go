package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edgepipe/edgepipe/pipeline"
)

// The wire between `edgepipe bench` and its worker (`edgepipe bench worker`, the
// pipeline in a process of its own): one text line per message.
//
//	worker → bench, on the worker's stdout
//	  ready                          the pipeline's MQTT source is subscribed
//	  c <unix ns> <duplicates> <dead> a store transaction committed at <unix ns> (wall
//	                                 clock, taken in the Committed hook, right before the
//	                                 acks): <duplicates> redelivered readings found already
//	                                 stored, <dead> records dead-lettered
//	  r <unix ns> <device>           one reading that transaction stored: its event time
//	  s <n>                          n summaries (with their outbox rows) committed
//	  m <cpu ns> <count> <sum> <le>=<cumulative count>…
//	                                 a snapshot (the answer to m): the worker's CPU time
//	                                 (user + system, getrusage) and its inference batch
//	                                 size histogram (edgepipe_infer_batch_size)
//	bench → worker, on the worker's stdin
//	  m                              ask for a snapshot
//	  end of input                   drain and exit

// benchWire writes the worker's messages; its methods may be called from any goroutine.
type benchWire struct {
	mu  sync.Mutex
	w   *bufio.Writer
	buf []byte
}

func newBenchWire(w io.Writer) *benchWire { return &benchWire{w: bufio.NewWriterSize(w, 64<<10)} }

// send writes one message (lines ending in '\n') and flushes it. A write error means
// the bench is gone; the worker then stops when its stdin ends.
func (b *benchWire) send(msg []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.w.Write(msg)
	b.w.Flush()
}

func (b *benchWire) ready() { b.send([]byte("ready\n")) }

// committed is the pipeline's Committed hook.
func (b *benchWire) committed(recs []*pipeline.Record, duplicates int) {
	now := time.Now().UnixNano()
	dead := 0
	for _, r := range recs {
		if r.Dead() {
			dead++
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := append(b.buf[:0], "c "...)
	m = strconv.AppendInt(m, now, 10)
	m = append(m, ' ')
	m = strconv.AppendInt(m, int64(duplicates), 10)
	m = append(m, ' ')
	m = strconv.AppendInt(m, int64(dead), 10)
	m = append(m, '\n')
	for _, r := range recs {
		if r.Dead() {
			continue
		}
		m = append(m, "r "...)
		m = strconv.AppendInt(m, r.Time.UnixNano(), 10)
		m = append(m, ' ')
		m = append(m, r.Device...)
		m = append(m, '\n')
	}
	b.buf = m
	b.w.Write(m)
	b.w.Flush()
}

// summarized is the pipeline's Summarized hook.
func (b *benchWire) summarized(sums []pipeline.Summary) {
	b.send([]byte("s " + strconv.Itoa(len(sums)) + "\n"))
}

// snapshot sends the process's CPU time and the batch size histogram h.
func (b *benchWire) snapshot(h prometheus.Histogram) error {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return err
	}
	hist := m.GetHistogram()
	line := fmt.Sprintf("m %d %d %g", ru.Utime.Nano()+ru.Stime.Nano(), hist.GetSampleCount(), hist.GetSampleSum())
	for _, bk := range hist.GetBucket() {
		line += fmt.Sprintf(" %g=%d", bk.GetUpperBound(), bk.GetCumulativeCount())
	}
	b.send([]byte(line + "\n"))
	return nil
}

// benchSnapshot is a worker snapshot, read by the bench.
type benchSnapshot struct {
	// cpu is the worker's CPU time so far (user + system).
	cpu time.Duration
	// batches is the inference batch size histogram so far.
	batches benchHistogram
}

// benchHistogram is a Prometheus histogram's state: cumulative counts per upper bound
// (ascending; the +Inf bucket is count), the number of observations and their sum.
type benchHistogram struct {
	bounds     []float64
	cumulative []uint64
	count      uint64
	sum        float64
}

// parseBenchSnapshot parses the fields of an m line after the "m".
func parseBenchSnapshot(f []string) (benchSnapshot, error) {
	var s benchSnapshot
	if len(f) < 3 {
		return s, fmt.Errorf("bench worker: snapshot %q: want cpu, count and sum", strings.Join(f, " "))
	}
	cpu, err1 := strconv.ParseInt(f[0], 10, 64)
	count, err2 := strconv.ParseUint(f[1], 10, 64)
	sum, err3 := strconv.ParseFloat(f[2], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return s, fmt.Errorf("bench worker: snapshot %q: malformed numbers", strings.Join(f, " "))
	}
	s.cpu, s.batches.count, s.batches.sum = time.Duration(cpu), count, sum
	for _, b := range f[3:] {
		le, c, ok := strings.Cut(b, "=")
		bound, err1 := strconv.ParseFloat(le, 64)
		n, err2 := strconv.ParseUint(c, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return s, fmt.Errorf("bench worker: snapshot bucket %q: want <upper bound>=<cumulative count>", b)
		}
		s.batches.bounds = append(s.batches.bounds, bound)
		s.batches.cumulative = append(s.batches.cumulative, n)
	}
	return s, nil
}

// benchBucket is one bucket of a batch size distribution: the batches of more than the
// previous bucket's Le rows and at most Le ("+Inf" for the last bucket).
type benchBucket struct {
	Le    string `json:"le"`
	Count uint64 `json:"count"`
}

// since returns the batches observed between the snapshot before (same buckets) and h,
// one count per bucket (not cumulative) ending with the +Inf bucket, and their mean
// size in rows (0 without batches).
func (h benchHistogram) since(before benchHistogram) ([]benchBucket, float64) {
	var out []benchBucket
	var prev uint64
	for i, bound := range h.bounds {
		c := h.cumulative[i] - before.cumulative[i]
		out = append(out, benchBucket{Le: strconv.FormatFloat(bound, 'g', -1, 64), Count: c - prev})
		prev = c
	}
	n := h.count - before.count
	out = append(out, benchBucket{Le: strconv.FormatFloat(math.Inf(1), 'g', -1, 64), Count: n - prev})
	if n == 0 {
		return out, 0
	}
	return out, (h.sum - before.sum) / float64(n)
}
