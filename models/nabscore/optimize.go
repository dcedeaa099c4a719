package nabscore

import "sort"

// Optimize finds the threshold that maximises the corpus's raw score for profile p and
// returns it with that score (NAB's optimizer.optimizeThreshold with
// Sweeper.calcScoreByThreshold). It pools the scored rows of all files, sorts them by
// anomaly score, highest first, and lowers the threshold through every distinct score,
// starting above all of them at 1.1 (no detections: the null score). Of equal scores it
// keeps the highest threshold, as NAB does. The errors are those of Score.
func (c Corpus) Optimize(p Profile) (threshold, raw float64, err error) {
	sweeps, err := c.prepare(p)
	if err != nil {
		return 0, 0, err
	}
	type ranked struct {
		point
		file int
	}
	var pts []ranked
	var total float64
	for i, s := range sweeps {
		for _, pt := range s.points {
			pts = append(pts, ranked{pt, i})
		}
		total -= p.FN * float64(s.windows)
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].score > pts[j].score })

	best := map[[2]int]float64{} // (file, window) → the window's part of the score
	cur := 1.1
	threshold, raw = cur, total
	for _, pt := range pts {
		if pt.score != cur {
			if total > raw {
				threshold, raw = cur, total
			}
			cur = pt.score
		}
		if pt.window < 0 {
			total += pt.sweep
			continue
		}
		k := [2]int{pt.file, pt.window}
		b, ok := best[k]
		if !ok {
			b = -p.FN
		}
		if pt.sweep > b {
			total += pt.sweep - b
			b = pt.sweep
		}
		best[k] = b
	}
	if total > raw {
		threshold, raw = cur, total
	}
	return threshold, raw, nil
}
