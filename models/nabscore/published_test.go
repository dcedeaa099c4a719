package nabscore

import (
	"encoding/csv"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgepipe/edgepipe/datasets"
)

// shipped reads a file of the embedded NAB folder.
func shipped(t testing.TB, name string) fs.File {
	t.Helper()
	f, err := datasets.NAB.Open("nab/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func shippedProfiles(t testing.TB) []Profile {
	t.Helper()
	ps, err := ReadProfiles(shipped(t, "config/profiles.json"))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// numentaCorpus is the Numenta HTM detector's output on the 7 realKnownCause files.
func numentaCorpus(t testing.TB) Corpus {
	t.Helper()
	labels, err := datasets.ReadNABLabels("")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := fs.Sub(datasets.NAB, "nab/results")
	if err != nil {
		t.Fatal(err)
	}
	byDetector, err := ReadResults(sub, ".", labels)
	if err != nil {
		t.Fatal(err)
	}
	if len(byDetector) != 1 || len(byDetector["numenta"]) != 7 {
		t.Fatalf("read %d detectors, numenta with %d files; want numenta with 7", len(byDetector), len(byDetector["numenta"]))
	}
	return Corpus{Files: byDetector["numenta"], Windows: labels}
}

// publishedRow is a row of NAB's results/numenta/numenta_<profile>_scores.csv.
type publishedRow struct {
	threshold, score float64
	tp, tn, fp, fn   int
}

func readPublishedScores(t testing.TB, profile string) map[string]publishedRow {
	t.Helper()
	recs, err := csv.NewReader(shipped(t, "results/numenta/numenta_"+profile+"_scores.csv")).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]publishedRow{}
	for _, r := range recs[1:] { // Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count
		if !strings.HasPrefix(r[2], "realKnownCause/") {
			continue
		}
		var row publishedRow
		var errs [6]error
		row.threshold, errs[0] = strconv.ParseFloat(r[3], 64)
		row.score, errs[1] = strconv.ParseFloat(r[4], 64)
		row.tp, errs[2] = strconv.Atoi(r[5])
		row.tn, errs[3] = strconv.Atoi(r[6])
		row.fp, errs[4] = strconv.Atoi(r[7])
		row.fn, errs[5] = strconv.Atoi(r[8])
		for _, e := range errs {
			if e != nil {
				t.Fatalf("%s: %v", r[2], e)
			}
		}
		out[r[2]] = row
	}
	return out
}

// TestReproducesNumentaScores scores the Numenta HTM detector's published per-row outputs
// on the 7 realKnownCause files with the threshold NAB published for each profile
// (config/thresholds.json) and checks every file's raw score (to 3 decimals) and row counts
// against NAB's published results/numenta/numenta_<profile>_scores.csv.
func TestReproducesNumentaScores(t *testing.T) {
	c := numentaCorpus(t)
	ths, err := ReadThresholds(shipped(t, "config/thresholds.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range shippedProfiles(t) {
		th, ok := ths["numenta"][p.Name]
		if !ok {
			t.Fatalf("no published numenta threshold for %s", p.Name)
		}
		want := readPublishedScores(t, p.Name)
		res, err := c.Score(p, th.Threshold)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Files) != len(want) {
			t.Fatalf("%s: scored %d files, %d published", p.Name, len(res.Files), len(want))
		}
		for _, f := range res.Files {
			w := want[f.Key]
			t.Logf("%-18s %-55s score %9.4f published %9.4f  TP %2d FP %2d", p.Name, f.Key, f.Score, w.score, f.TP, f.FP)
			if math.Abs(f.Score-w.score) >= 5e-4 || math.Abs(th.Threshold-w.threshold) > 1e-9 {
				t.Errorf("%s %s: score %.6f at %v, published %.6f at %v", p.Name, f.Key, f.Score, th.Threshold, w.score, w.threshold)
			}
			if f.TP != w.tp || f.TN != w.tn || f.FP != w.fp || f.FN != w.fn {
				t.Errorf("%s %s: TP %d TN %d FP %d FN %d, published %d %d %d %d", p.Name, f.Key, f.TP, f.TN, f.FP, f.FN, w.tp, w.tn, w.fp, w.fn)
			}
		}
		t.Logf("%s: raw %.4f, null %.0f, perfect %.0f, normalised %.2f", p.Name, res.Raw, res.Null, res.Perfect, res.Normalized)
	}
}

// TestRowContributionsMatchNumenta checks the score of every row against the S(t)_<profile>
// columns of NAB's published Numenta outputs, which hold each row's part of the file score
// at the published threshold: a false positive's weighted sweep score on its row, and a
// window's credit (its earliest detection's, or −FN) on the window's first row.
func TestRowContributionsMatchNumenta(t *testing.T) {
	c := numentaCorpus(t)
	ths, err := ReadThresholds(shipped(t, "config/thresholds.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Files {
		name := "results/numenta/realKnownCause/numenta_" + strings.TrimPrefix(f.Key, "realKnownCause/")
		recs, err := csv.NewReader(shipped(t, name)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range shippedProfiles(t) {
			col := slices.Index(recs[0], "S(t)_"+p.Name)
			if col < 0 || len(recs)-1 != len(f.Times) {
				t.Fatalf("%s: no S(t)_%s column, or %d rows for %d", name, p.Name, len(recs)-1, len(f.Times))
			}
			th := ths["numenta"][p.Name].Threshold
			s, err := sweepFile(f, c.Windows[f.Key], p)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float64, len(f.Times))
			first := map[int]int{} // window → its first scored row
			credit := map[int]float64{}
			prob := datasets.Probationary(len(f.Times))
			for k, pt := range s.points {
				i := prob + k
				detected := pt.score >= th
				switch {
				case pt.window < 0 && detected:
					want[i] = pt.sweep
				case pt.window >= 0:
					if _, ok := first[pt.window]; !ok {
						first[pt.window], credit[pt.window] = i, -p.FN
					}
					if detected {
						credit[pt.window] = max(credit[pt.window], pt.sweep)
					}
				}
			}
			for w, i := range first {
				want[i] = credit[w]
			}
			bad := 0
			for i, rec := range recs[1:] {
				got, err := strconv.ParseFloat(rec[col], 64)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(got-want[i]) > 1e-9 {
					if bad++; bad <= 3 {
						t.Errorf("%s %s row %d (%s): ours %.12f, published %.12f", f.Key, p.Name, i, rec[0], want[i], got)
					}
				}
			}
		}
	}
}
