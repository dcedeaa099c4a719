package nabscore

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
)

var (
	standard = Profile{Name: "standard", TP: 1, FP: 0.11, FN: 1}
	t0       = time.Date(2014, 4, 1, 0, 0, 0, 0, time.UTC)
)

// minute returns the time of row i of a file with one row a minute.
func minute(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// synthetic is a file of n rows, one a minute, scored 1 at the rows in hits and 0 elsewhere,
// with windows [a, b] given as row pairs. Its probationary period is floor(0.15 n) rows.
func synthetic(n int, hits []int, windows ...[2]int) Corpus {
	f := File{Key: "test/file.csv", Times: make([]time.Time, n), Scores: make([]float64, n)}
	for i := range f.Times {
		f.Times[i] = minute(i)
	}
	for _, i := range hits {
		f.Scores[i] = 1
	}
	var wins []datasets.Window
	for _, w := range windows {
		wins = append(wins, datasets.Window{Start: minute(w[0]), End: minute(w[1])})
	}
	return Corpus{Files: []File{f}, Windows: map[string][]datasets.Window{f.Key: wins}}
}

// tp is the credit of a detection at row i of a window [a, b]: σ(−(b−i+1)/(b−a+1))/σ(−1),
// written with σ(y) = tanh(−5y/2).
func tp(i, a, b int) float64 {
	return math.Tanh(2.5*float64(b-i+1)/float64(b-a+1)) / math.Tanh(2.5)
}

// TestScoreWindows checks NAB's window scoring on a 40-row file (probation: rows 0–5) with
// windows at rows 10–14 and 30–33, against values computed by hand.
func TestScoreWindows(t *testing.T) {
	w1, w2 := [2]int{10, 14}, [2]int{30, 33}
	for _, c := range []struct {
		name       string
		hits       []int
		want       float64
		tp, fp     int
		detected   int
		normalised float64
	}{
		{"nothing detected: both windows missed", nil, -2, 0, 0, 0, 0},
		{"first row of a window: full credit, once", []int{10, 12}, 0, // +1 for window 1, −1 for window 2
			2, 0, 1, 50},
		{"earliest detection counts", []int{13, 11}, tp(11, 10, 14) - 1, 2, 0, 1, 100 * (tp(11, 10, 14) + 1) / 4},
		{"last row of a window", []int{14}, tp(14, 10, 14) - 1, 1, 0, 1, 100 * (tp(14, 10, 14) + 1) / 4},
		{"both windows at their start", []int{10, 30}, 2, 2, 0, 2, 100},
		{"probationary detections are ignored", []int{0, 3, 5}, -2, 0, 0, 0, 0},
		{"false positive before any window", []int{8}, -2 - 0.11, 0, 1, 0, 100 * (-0.11) / 4},
		{"false positive just after a window", []int{16}, -2 + 0.11*math.Tanh(-2.5*2.0/4), 0, 1, 0, 100 * 0.11 * math.Tanh(-1.25) / 4},
		{"false positive 3.5 window lengths after", []int{28}, -2 - 0.11, 0, 1, 0, 100 * (-0.11) / 4},
		{"false positives add up", []int{7, 8}, -2 - 0.22, 0, 2, 0, 100 * (-0.22) / 4},
	} {
		res, err := synthetic(40, c.hits, w1, w2).Score(standard, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		f := res.Files[0]
		if math.Abs(f.Score-c.want) > 1e-12 || f.TP != c.tp || f.FP != c.fp || f.Detected != c.detected || f.Windows != 2 {
			t.Errorf("%s: score %.12f TP %d FP %d detected %d/%d, want %.12f TP %d FP %d detected %d/2",
				c.name, f.Score, f.TP, f.FP, f.Detected, f.Windows, c.want, c.tp, c.fp, c.detected)
		}
		if f.TP+f.TN+f.FP+f.FN != 34 || f.TP+f.FN != 9 {
			t.Errorf("%s: TP %d TN %d FP %d FN %d, want 34 scored rows, 9 in windows", c.name, f.TP, f.TN, f.FP, f.FN)
		}
		if res.Raw != f.Score || res.Null != -2 || res.Perfect != 2 || math.Abs(res.Normalized-c.normalised) > 1e-9 {
			t.Errorf("%s: raw %v null %v perfect %v normalised %v, want %v −2 2 %v", c.name, res.Raw, res.Null, res.Perfect, res.Normalized, f.Score, c.normalised)
		}
	}
}

// TestScoreProbationEdges covers windows that start in the probationary period (rows 0–5 of
// 40): one partly inside it is scored on its later rows only, one wholly inside it is
// neither credited nor charged (but still counts towards the perfect score, as in NAB).
func TestScoreProbationEdges(t *testing.T) {
	res, err := synthetic(40, []int{5, 7}, [2]int{4, 8}).Score(standard, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Files[0]; math.Abs(f.Score-tp(7, 4, 8)) > 1e-12 || f.Windows != 1 || f.TP != 1 {
		t.Errorf("window 4–8: score %v windows %d TP %d, want %v 1 1", f.Score, f.Windows, f.TP, tp(7, 4, 8))
	}
	res, err = synthetic(40, []int{20}, [2]int{1, 3}).Score(standard, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// The false positive at row 20 is 17 rows after the window (width 3): y = 17/2 > 3.
	if f := res.Files[0]; f.Score != -0.11 || f.Windows != 0 || res.Null != 0 || res.Perfect != 1 {
		t.Errorf("window 1–3: score %v windows %d null %v perfect %v, want −0.11 0 0 1", f.Score, f.Windows, res.Null, res.Perfect)
	}
	// After a one-row window, NAB divides by zero; here a false positive costs the full FP.
	res, err = synthetic(40, []int{21}, [2]int{20, 20}).Score(standard, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Files[0]; f.Score != -1-0.11 {
		t.Errorf("after a one-row window: %v, want −1.11", f.Score)
	}
}

// TestScoreThreshold checks that a score equal to the threshold is a detection (NAB's
// sweeper takes the row whose threshold equals the given one, which counts scores ≥ it).
func TestScoreThreshold(t *testing.T) {
	c := synthetic(40, nil, [2]int{10, 14})
	c.Files[0].Scores[12] = 0.7
	for th, want := range map[float64]int{0.7: 1, math.Nextafter(0.7, 1): 0, 0.2: 1, 1.1: 0} {
		res, err := c.Score(standard, th)
		if err != nil {
			t.Fatal(err)
		}
		if res.Files[0].Detected != want {
			t.Errorf("threshold %v: %d windows detected, want %d", th, res.Files[0].Detected, want)
		}
	}
}

// TestScoreErrors checks the errors Score returns for bad input.
func TestScoreErrors(t *testing.T) {
	bad := func(name string, c Corpus, want string) {
		t.Helper()
		if _, err := c.Score(standard, 0.5); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, want)
		}
	}
	c := synthetic(40, nil, [2]int{10, 14})
	c.Windows["test/file.csv"][0].Start = minute(10).Add(time.Second)
	bad("window start between rows", c, "window 2014-04-01 00:10:01 … 2014-04-01 00:14:00: start or end is not the time of a row")
	c = synthetic(40, nil, [2]int{10, 14})
	c.Files[0].Scores[3] = 1.5
	bad("score above 1", c, "test/file.csv: row 3: anomaly score 1.5, want in [0, 1]")
	c.Files[0].Scores[3] = math.NaN()
	bad("NaN score", c, "row 3: anomaly score NaN")
	c = synthetic(40, nil)
	c.Files[0].Key = "other/file.csv"
	bad("no labels", c, "nabscore: other/file.csv: no labels for this file")
	c = synthetic(40, nil)
	c.Files[0].Scores = c.Files[0].Scores[:39]
	bad("lengths", c, "40 times, 39 scores")
}
