package nabscore

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
)

// point is one scored row (after the probationary period) of one file.
type point struct {
	score  float64 // the detector's anomaly_score
	sweep  float64 // what a detection here adds: > 0 in a window (if earliest), ≤ 0 outside
	window int     // the window's index within its file, −1 outside every window
}

// fileSweep is one file prepared for a profile: its scored points (rows from the end of the
// probationary period on, in row order) and how many of its windows have a scored row
// (those a detector can hit or miss).
type fileSweep struct {
	points  []point
	windows int
}

// sweepFile ports NAB's Sweeper.calcSweepScore: it walks the rows once, tracking the window
// it is in (entered at the row whose time equals the window's start, left after the row
// whose time equals its end) and the last window it left. A row at index i inside a
// window [l, r] gets TP·σ(−(r−i+1)/(r−l+1))/σ(−1); a row outside gets FP·σ(|i−r'|/(w'−1))
// after a window [l', r'] of w' rows, or −FP before any window (σ = ScaledSigmoid). Rows
// before datasets.Probationary(n) are not scored (but a window ending there still counts as
// the previous window).
//
// It returns an error when f's slices differ in length, a score is not in [0, 1], or a
// window's start or end is not the time of one of f's rows (NAB's labeler requires both).
func sweepFile(f File, wins []datasets.Window, p Profile) (fileSweep, error) {
	n := len(f.Times)
	if len(f.Scores) != n || (f.Values != nil && len(f.Values) != n) {
		return fileSweep{}, fmt.Errorf("%s: %d times, %d scores, %d values", f.Key, n, len(f.Scores), len(f.Values))
	}
	for i, s := range f.Scores {
		if !(s >= 0 && s <= 1) {
			return fileSweep{}, fmt.Errorf("%s: row %d: anomaly score %v, want in [0, 1]", f.Key, i, s)
		}
	}
	wins = append([]datasets.Window(nil), wins...)
	sort.Slice(wins, func(i, j int) bool { return wins[i].Start.Before(wins[j].Start) })
	// index returns the first row whose time equals t, as Python's list.index does.
	index := func(t time.Time) int {
		for i, ti := range f.Times {
			if ti.Equal(t) {
				return i
			}
		}
		return -1
	}
	type span struct{ left, right int }
	spans := make([]span, len(wins))
	for k, w := range wins {
		spans[k] = span{index(w.Start), index(w.End)}
		if spans[k].left < 0 || spans[k].right < spans[k].left {
			return fileSweep{}, fmt.Errorf("%s: window %s … %s: start or end is not the time of a row, or the end precedes the start",
				f.Key, w.Start.Format(datasets.NABTimeLayout), w.End.Format(datasets.NABTimeLayout))
		}
	}

	maxTP := ScaledSigmoid(-1)
	prob := datasets.Probationary(n)
	var out fileSweep
	next, cur, prev := 0, -1, -1 // next window to enter; window we are in; last window left
	scored := make([]bool, len(wins))
	for i, t := range f.Times {
		if next < len(wins) && t.Equal(wins[next].Start) {
			cur, next = next, next+1
		}
		var s float64
		switch {
		case cur >= 0:
			width := float64(spans[cur].right - spans[cur].left + 1)
			s = ScaledSigmoid(-float64(spans[cur].right-i+1)/width) * p.TP / maxTP
		case prev < 0:
			s = -p.FP
		default:
			// After a one-row window y = +Inf (σ = −1), where NAB divides by zero.
			width := float64(spans[prev].right - spans[prev].left + 1)
			s = ScaledSigmoid(math.Abs(float64(spans[prev].right-i))/(width-1)) * p.FP
		}
		if i >= prob {
			out.points = append(out.points, point{score: f.Scores[i], sweep: s, window: cur})
			if cur >= 0 {
				scored[cur] = true
			}
		}
		if cur >= 0 && t.Equal(wins[cur].End) {
			prev, cur = cur, -1
		}
	}
	for _, s := range scored {
		if s {
			out.windows++
		}
	}
	return out, nil
}
