package nabscore

import (
	"fmt"
	"math"
)

// FileScore is one file's NAB score at a threshold: a row of NAB's
// results/<detector>/<detector>_<profile>_scores.csv.
type FileScore struct {
	Key   string
	Score float64
	// TP, TN, FP and FN count the scored rows (after the probationary period) as NAB does:
	// detected rows inside and outside the windows (TP, FP), undetected rows inside and
	// outside (FN, TN).
	TP, TN, FP, FN int
	// Windows is the number of the file's windows that have a scored row; Detected how many
	// of them hold a detection.
	Windows, Detected int
}

// Result is a corpus's NAB score for one profile at one threshold.
type Result struct {
	Profile   Profile
	Threshold float64
	// Raw is the sum of the files' scores; Null the raw score of a detector that never
	// fires (−FN weight × the windows with a scored row); Perfect that of one that fires on
	// the first row of every window (TP weight × all windows of the scored files, as NAB
	// counts them from its label file); Normalized = 100·(Raw − Null)/(Perfect − Null), NaN
	// when Perfect = Null (no windows).
	Raw, Null, Perfect, Normalized float64
	Files                          []FileScore
}

// prepare sweeps every file of c for profile p.
func (c Corpus) prepare(p Profile) ([]fileSweep, error) {
	out := make([]fileSweep, len(c.Files))
	for i, f := range c.Files {
		wins, ok := c.Windows[f.Key]
		if !ok {
			return nil, fmt.Errorf("nabscore: %s: no labels for this file", f.Key)
		}
		s, err := sweepFile(f, wins, p)
		if err != nil {
			return nil, fmt.Errorf("nabscore: %w", err)
		}
		out[i] = s
	}
	return out, nil
}

// Score scores every file of c for profile p with detections where anomaly_score ≥
// threshold, as NAB's scorer.scoreCorpus does with a given threshold, and normalises the
// total (Result.Normalized). It returns an error for a file without labels, slices of
// unequal length, a score outside [0, 1], or a window whose start or end is not the time of
// a row.
func (c Corpus) Score(p Profile, threshold float64) (Result, error) {
	sweeps, err := c.prepare(p)
	if err != nil {
		return Result{}, err
	}
	res := Result{Profile: p, Threshold: threshold, Files: make([]FileScore, len(sweeps))}
	for i, s := range sweeps {
		fs := scoreFile(s, threshold, p)
		fs.Key = c.Files[i].Key
		res.Files[i] = fs
		res.Raw += fs.Score
		res.Null -= p.FN * float64(s.windows)
		res.Perfect += p.TP * float64(len(c.Windows[fs.Key]))
	}
	res.Normalized = math.NaN()
	if res.Perfect != res.Null {
		res.Normalized = 100 * (res.Raw - res.Null) / (res.Perfect - res.Null)
	}
	return res, nil
}

// scoreFile totals one file at a threshold (NAB: the Sweeper.calcScoreByThreshold row that
// Sweeper.scoreDataSet picks): the false positives' sweep scores plus, per window with a
// scored row, the best sweep score of its detections, or −FN when it has none.
func scoreFile(s fileSweep, threshold float64, p Profile) FileScore {
	var fs FileScore
	best := map[int]float64{}
	var fp float64
	for _, pt := range s.points {
		detected := pt.score >= threshold
		switch {
		case pt.window >= 0 && detected:
			fs.TP++
			if b, ok := best[pt.window]; !ok || pt.sweep > b {
				best[pt.window] = pt.sweep
			}
		case pt.window >= 0:
			fs.FN++
		case detected:
			fs.FP++
			fp += pt.sweep
		default:
			fs.TN++
		}
	}
	fs.Windows, fs.Detected = s.windows, len(best)
	fs.Score = fp - p.FN*float64(s.windows-len(best))
	for _, b := range best {
		fs.Score += max(b, -p.FN)
	}
	return fs
}
