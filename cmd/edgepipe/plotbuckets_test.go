package main

import (
	"math"
	"testing"
	"time"
)

// 22,695 readings (machine_temperature's length) into 800 buckets: at most 1,600 points,
// in time order, and every bucket's extremes are kept, so a single-reading spike and dip
// survive.
func TestMinMaxKeepsExtremes(t *testing.T) {
	const n, buckets = 22695, 800
	step := int64(5 * time.Minute)
	m := newMinMax(0, (n-1)*step, buckets)
	value := func(i int) float64 {
		switch i {
		case 12345:
			return 1000 // spike
		case 20000:
			return -1000 // dip
		case 7:
			return math.NaN() // missing: skipped
		}
		return math.Sin(float64(i) / 100)
	}
	// The true extremes of every bucket, computed directly.
	lo, hi := make([]float64, buckets), make([]float64, buckets)
	for b := range buckets {
		lo[b], hi[b] = math.Inf(1), math.Inf(-1)
	}
	for i := range n {
		v := value(i)
		m.add(int64(i)*step, v)
		if math.IsNaN(v) {
			continue
		}
		b := min(int(float64(i)/float64(n-1)*buckets), buckets-1)
		lo[b], hi[b] = min(lo[b], v), max(hi[b], v)
	}
	xys := m.xys()
	if len(xys) > 2*buckets || len(xys) < buckets {
		t.Fatalf("%d points for %d buckets", len(xys), buckets)
	}
	for i := 1; i < len(xys); i++ {
		if xys[i].X < xys[i-1].X {
			t.Fatalf("points out of time order at %d: %v after %v", i, xys[i].X, xys[i-1].X)
		}
	}
	var spike, dip bool
	got := map[float64]bool{}
	for _, p := range xys {
		got[p.Y] = true
		spike = spike || (p.Y == 1000 && p.X == float64(12345*step)/1e9)
		dip = dip || (p.Y == -1000 && p.X == float64(20000*step)/1e9)
	}
	if !spike || !dip {
		t.Errorf("spike kept %v, dip kept %v", spike, dip)
	}
	for b := range buckets {
		if !got[lo[b]] || !got[hi[b]] {
			t.Fatalf("bucket %d: extremes %v, %v not both kept", b, lo[b], hi[b])
		}
	}
	if l, h := m.extent(); l != -1000 || h != 1000 {
		t.Errorf("extent %v, %v", l, h)
	}
}

// One reading per bucket is one point; a series at one instant is one bucket; times
// outside the span are clamped to the end buckets.
func TestMinMaxEdges(t *testing.T) {
	m := newMinMax(0, 9, 10)
	for i := range 10 {
		m.add(int64(i), float64(i))
	}
	if xys := m.xys(); len(xys) != 10 || xys[9].Y != 9 {
		t.Errorf("one reading per bucket: %v", xys)
	}
	one := newMinMax(5, 5, 10)
	one.add(5, 1)
	one.add(5, 3)
	if xys := one.xys(); len(xys) != 2 || xys[0].Y+xys[1].Y != 4 {
		t.Errorf("one instant: %v", xys)
	}
	if b := m.bucket(-100); b != 0 {
		t.Errorf("before the span: bucket %d", b)
	}
	if b := m.bucket(100); b != 9 {
		t.Errorf("after the span: bucket %d", b)
	}
	empty := newMinMax(0, 9, 10)
	empty.add(1, math.Inf(1))
	if l, h := empty.extent(); !math.IsNaN(l) || !math.IsNaN(h) || len(empty.xys()) != 0 {
		t.Errorf("nothing finite added: extent %v %v, points %v", l, h, empty.xys())
	}
}
