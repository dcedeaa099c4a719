package main

import (
	"math"
	"sort"
	"time"

	"gonum.org/v1/plot/plotter"
)

// point is one reading of a series: event time in ns since the Unix epoch and its value.
type point struct {
	t int64
	v float64
}

// minMax decimates a time series for drawing: the time span [from, to] is cut into n equal
// buckets (one per pixel column of the plot), and each bucket keeps only its lowest and its
// highest value with their times. A line through these 2n points, in time order, covers at
// that width the same pixels as the full series: every spike and dip survives, however
// long the series (min/max decimation, the two extremes of M4: Jugel et al., "M4: A
// Visualization-Oriented Time Series Data Aggregation", VLDB 2014). Memory is O(n),
// whatever the number of readings.
type minMax struct {
	from, to int64
	lo, hi   []point
	seen     []bool
}

// newMinMax returns an empty decimator of n ≥ 1 buckets over [from, to] (ns since the
// Unix epoch; from == to is one instant, all in bucket 0).
func newMinMax(from, to int64, n int) *minMax {
	return &minMax{from: from, to: to, lo: make([]point, n), hi: make([]point, n), seen: make([]bool, n)}
}

// bucket returns the bucket of time t (ns), clamped to [0, n).
func (m *minMax) bucket(t int64) int {
	n := len(m.seen)
	if m.to <= m.from {
		return 0
	}
	b := int(float64(t-m.from) / float64(m.to-m.from) * float64(n))
	return min(max(b, 0), n-1)
}

// add records value v at time t (ns); NaN and ±Inf are skipped (missing or unscored).
func (m *minMax) add(t int64, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	b := m.bucket(t)
	if !m.seen[b] {
		m.seen[b], m.lo[b], m.hi[b] = true, point{t, v}, point{t, v}
		return
	}
	if v < m.lo[b].v {
		m.lo[b] = point{t, v}
	}
	if v > m.hi[b].v {
		m.hi[b] = point{t, v}
	}
}

// xys returns the kept points in time order, x in Unix seconds: up to two per bucket
// (one when the bucket's lowest and highest readings are the same one).
func (m *minMax) xys() plotter.XYs {
	var out plotter.XYs
	for b, ok := range m.seen {
		if !ok {
			continue
		}
		pts := []point{m.lo[b], m.hi[b]}
		if pts[0] == pts[1] {
			pts = pts[:1]
		}
		sort.Slice(pts, func(i, j int) bool { return pts[i].t < pts[j].t })
		for _, p := range pts {
			out = append(out, plotter.XY{X: unixSeconds(p.t), Y: p.v})
		}
	}
	return out
}

// extent returns the lowest and highest value kept (NaN, NaN when none).
func (m *minMax) extent() (lo, hi float64) {
	lo, hi = math.NaN(), math.NaN()
	for b, ok := range m.seen {
		if !ok {
			continue
		}
		if math.IsNaN(lo) || m.lo[b].v < lo {
			lo = m.lo[b].v
		}
		if math.IsNaN(hi) || m.hi[b].v > hi {
			hi = m.hi[b].v
		}
	}
	return lo, hi
}

// unixSeconds converts ns since the Unix epoch to seconds, the unit of the plots' time axes.
func unixSeconds(ns int64) float64 { return float64(ns) / float64(time.Second) }
