package main

import (
	"sort"
	"sync"
	"time"
)

// latencies pairs each reading's publish time with its commit time, keyed by device and
// event time (a FIFO per key, since real data repeats timestamps), and keeps the
// publish → commit latencies for percentiles.
type latencies struct {
	mu        sync.Mutex
	published map[latencyKey][]time.Time
	samples   []time.Duration
	first     time.Time
	last      time.Time
}

type latencyKey struct {
	device string
	ts     int64
}

func newLatencies() *latencies { return &latencies{published: map[latencyKey][]time.Time{}} }

// publish records that the reading (device, ts) was published at at.
func (l *latencies) publish(device string, ts, at time.Time) {
	l.mu.Lock()
	k := latencyKey{device, ts.UnixNano()}
	l.published[k] = append(l.published[k], at)
	if l.first.IsZero() {
		l.first = at
	}
	l.mu.Unlock()
}

// commit records that the reading (device, ts) was committed at at.
func (l *latencies) commit(device string, ts, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := latencyKey{device, ts.UnixNano()}
	q := l.published[k]
	if len(q) == 0 {
		return
	}
	l.samples = append(l.samples, at.Sub(q[0]))
	if len(q) == 1 {
		delete(l.published, k)
	} else {
		l.published[k] = q[1:]
	}
	l.last = at
}

// percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of the latencies.
func (l *latencies) percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l.samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(p/100*float64(len(s))+0.5) - 1
	rank = max(0, min(rank, len(s)-1))
	return s[rank]
}

// span returns the time from the first publish to the last commit.
func (l *latencies) span() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last.Sub(l.first)
}
