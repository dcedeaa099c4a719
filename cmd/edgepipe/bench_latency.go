package main

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// benchLatencyShift sets the size of a chunk of benchLatencies' publish times:
// 1 << benchLatencyShift readings (512 KiB).
const benchLatencyShift = 16

// benchLatencyChunk holds the publish times (unix ns, 0 = none or already paired) of
// 1 << benchLatencyShift consecutive readings.
type benchLatencyChunk [1 << benchLatencyShift]atomic.Int64

// benchLatencies pairs each measured reading's publish time with its commit time and
// keeps the publish → commit latencies for percentiles. It is the bench's cheaper
// latencies (latency.go): the bench's readings are numbered (benchSensors.reading), and
// a reading's device and event time give its number back, so its publish time sits in
// a slice indexed by that number — 8 bytes and no map operation per reading.
//
// publish is called by one goroutine (the publisher), commit by one other (the worker's
// message reader); percentiles and samples by any once commit is no longer called.
type benchLatencies struct {
	sensors map[string]int // device id → sensor number
	n       int64          // sensors
	// first is the number of the first reading published (the start of the measured
	// window), -1 before it.
	first atomic.Int64
	// chunks are the publish times from reading first on; only publish replaces it.
	chunks atomic.Pointer[[]*benchLatencyChunk]

	mu      sync.Mutex
	samples []time.Duration
}

// newBenchLatencies returns the latencies of the readings of sensors (benchSensors.reading
// numbers them).
func newBenchLatencies(s *benchSensors) *benchLatencies {
	l := &benchLatencies{sensors: make(map[string]int, len(s.devices)), n: int64(len(s.devices))}
	for i, d := range s.devices {
		l.sensors[d] = i
	}
	l.first.Store(-1)
	l.chunks.Store(&[]*benchLatencyChunk{})
	return l
}

// publish records that reading k (benchSensors.reading) was published at at. The
// readings are published in increasing order of k, from the first one measured on.
func (l *benchLatencies) publish(k int, at time.Time) {
	first := l.first.Load()
	if first < 0 {
		first = int64(k)
		l.first.Store(first)
	}
	i := int64(k) - first
	if i < 0 {
		return
	}
	chunks := *l.chunks.Load()
	c := int(i >> benchLatencyShift)
	for c >= len(chunks) {
		chunks = append(chunks[:len(chunks):len(chunks)], new(benchLatencyChunk))
		l.chunks.Store(&chunks)
	}
	chunks[c][i&(1<<benchLatencyShift-1)].Store(at.UnixNano())
}

// commit records that the reading of device (the worker's id bytes) and event time ts
// (unix ns) was committed at at (unix ns). A reading that is not one of the sensors', not
// published in the measured window, or already paired is left out.
func (l *benchLatencies) commit(device []byte, ts, at int64) {
	sensor, ok := l.sensors[string(device)]
	if !ok {
		return
	}
	d := ts - benchEpoch.UnixNano()
	if d < 0 || d%int64(benchStep) != 0 {
		return
	}
	first := l.first.Load()
	i := d/int64(benchStep)*l.n + int64(sensor) - first
	if first < 0 || i < 0 {
		return
	}
	chunks := *l.chunks.Load()
	c := i >> benchLatencyShift
	if c >= int64(len(chunks)) {
		return
	}
	published := chunks[c][i&(1<<benchLatencyShift-1)].Swap(0)
	if published == 0 {
		return
	}
	l.mu.Lock()
	l.samples = append(l.samples, time.Duration(at-published))
	l.mu.Unlock()
}

// count returns the number of latencies.
func (l *benchLatencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.samples)
}

// percentiles returns the p-th percentiles (0 < p ≤ 100, nearest rank) of the latencies,
// one per p; 0 without latencies.
func (l *benchLatencies) percentiles(ps ...float64) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]time.Duration, len(ps))
	if len(l.samples) == 0 {
		return out
	}
	slices.Sort(l.samples)
	for i, p := range ps {
		rank := int(p/100*float64(len(l.samples))+0.5) - 1
		out[i] = l.samples[max(0, min(rank, len(l.samples)-1))]
	}
	return out
}
