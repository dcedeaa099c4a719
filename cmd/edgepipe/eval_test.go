package main

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
)

// runEval runs `edgepipe eval` with args and returns its standard output.
func runEval(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCommand(evalCmd(), args...)
}

// profileLine returns the fields of the first line of out that starts with profile.
func profileLine(t *testing.T, out, profile string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 6 && f[0] == profile {
			return f
		}
	}
	t.Fatalf("no %s line in\n%s", profile, out)
	return nil
}

// TestEvalNABResults scores a one-file folder of a toy detector's outputs: 100 rows a
// minute apart (probation: rows 0–14), one window at rows 40–49, scores 0.9 at row 45 (in the
// window), 0.8 at row 20 (a false positive before any window) and 0.1 elsewhere.
func TestEvalNABResults(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2015, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) string { return t0.Add(time.Duration(i) * time.Minute).Format(datasets.NABTimeLayout) }
	var csv strings.Builder
	csv.WriteString("timestamp,value,anomaly_score,label\n")
	for i := 0; i < 100; i++ {
		score := map[int]float64{45: 0.9, 20: 0.8}[i]
		if score == 0 {
			score = 0.1
		}
		fmt.Fprintf(&csv, "%s,%d,%v,0\n", at(i), i, score)
	}
	results := filepath.Join(dir, "results")
	if err := os.MkdirAll(filepath.Join(results, "toy", "cat"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(results, "toy", "cat", "toy_a.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	labels := filepath.Join(dir, "labels.json")
	if err := os.WriteFile(labels, []byte(fmt.Sprintf(`{"cat/a.csv": [["%s.000000", "%s.000000"]]}`, at(40), at(49))), 0o644); err != nil {
		t.Fatal(err)
	}
	credit := math.Tanh(2.5*5/10) / math.Tanh(2.5) // detection at row 45 of window 40–49
	for _, c := range []struct {
		args      []string
		threshold string
		fp        float64 // the false positive counts
	}{
		{[]string{"--threshold", "0.5"}, "0.5", 1},
		{nil, "0.9", 0}, // NAB's sweeper drops the false positive
	} {
		out, err := runEval(t, append([]string{"nab", "--results", results, "--labels", labels}, c.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(out)
		for _, p := range []struct {
			name     string
			fp, null float64 // FP weight; null score = −FN weight × 1 window
		}{
			{"standard", 0.11, -1}, {"reward_low_FP_rate", 0.22, -1}, {"reward_low_FN_rate", 0.11, -2},
		} {
			raw := credit - c.fp*p.fp
			want := []string{p.name, c.threshold, fmt.Sprintf("%.3f", raw), fmt.Sprintf("%.0f", p.null), "1",
				fmt.Sprintf("%.1f", 100*(raw-p.null)/(1-p.null))}
			if got := profileLine(t, out, p.name); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%v: %s line %v, want %v", c.args, p.name, got, want)
			}
		}
		std, lowFP, fps := credit-c.fp*0.11, credit-c.fp*0.22, int(c.fp)
		file := fmt.Sprintf("cat/a.csv 1 %.3f (1, %d) %.3f (1, %d) %.3f (1, %d)", std, fps, lowFP, fps, std, fps)
		if !strings.Contains(out, "detector toy,") || !strings.Contains(strings.Join(strings.Fields(out), " "), file) {
			t.Errorf("%v: no per-file row %q in\n%s", c.args, file, out)
		}
	}
	if _, err := runEval(t, "nab", "--threshold", "0.5"); err == nil || !strings.Contains(err.Error(), "go with --results") {
		t.Errorf("--threshold without --results: %v", err)
	}
}

// TestEvalNABEdgepipe runs edgepipe's detector over two shipped streams, checks the outputs
// it writes in NAB's results format, and that scoring those files with --results gives the
// scores it printed.
func TestEvalNABEdgepipe(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	names := []string{"ec2_request_latency_system_failure", "rogue_agent_key_hold"}
	for _, name := range names {
		b, err := fs.ReadFile(datasets.NAB, datasets.NABDir+"/"+name+".csv")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, name+".csv"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	printed, err := runEval(t, "nab", "--data", data, "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(printed)
	streams, err := datasets.ReadNABDir(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		b, err := os.ReadFile(filepath.Join(out, "edgepipe", "realKnownCause", "edgepipe_"+s.Name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != len(s.Values)+1 || lines[0] != "timestamp,value,anomaly_score,label" {
			t.Fatalf("%s: %d lines, header %q", s.Name, len(lines), lines[0])
		}
		// Rows of the probationary period get likelihood 0.5, which is 0.0301 on the log scale.
		if first := s.Times[0].Format(datasets.NABTimeLayout); !strings.HasPrefix(lines[1], first+",") || !strings.HasSuffix(lines[1], ",0.03010299955771223,0") {
			t.Errorf("%s: first row %q, want %s,<value>,0.03010299955771223,0", s.Name, lines[1], first)
		}
	}
	rescored, err := runEval(t, "nab", "--results", out, "--threshold", strconv.FormatFloat(likelihoodThreshold, 'g', -1, 64))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"standard", "reward_low_FP_rate", "reward_low_FN_rate"} {
		a, b := profileLine(t, printed, p), profileLine(t, rescored, p)
		if strings.Join(a, " ") != strings.Join(b, " ") || a[1] != "0.5" || a[3] != "-5" && a[3] != "-10" {
			t.Errorf("%s: printed %v, rescored from the written files %v", p, a, b)
		}
	}
	for _, want := range []string{"edgepipe raw e/(e+θ)", "Numenta HTM", "NAB's published (full corpus)", "same 2 files (5 scored windows)", "ARTime", "74.9"} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// comparisonRow returns the three normalised scores (standard, low FP, low FN) of the line
// of the comparison table that holds detector and thresholds.
func comparisonRow(t *testing.T, out, detector, thresholds string) [3]float64 {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, detector) || !strings.Contains(l, thresholds) {
			continue
		}
		f := strings.Fields(l)
		var v [3]float64
		for i := range v {
			x, err := strconv.ParseFloat(f[len(f)-3+i], 64)
			if err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			v[i] = x
		}
		return v
	}
	t.Fatalf("no %s, %s line in\n%s", detector, thresholds, out)
	return [3]float64{}
}

// TestEvalNABEdgepipeFloor runs edgepipe's detector over all 7 shipped NAB streams and
// checks that its NAB scores stay at least at floors a little below those measured
// (likelihood: 41.8, 36.3, 45.4 at its own threshold, 45.6, 38.6, 49.7 tuned; raw e/(e+θ):
// −68.4, −190.2, −26.3 and 18.1, 14.9, 20.9), and that the likelihood beats the raw scores.
func TestEvalNABEdgepipeFloor(t *testing.T) {
	out, err := runEval(t, "nab")
	if err != nil {
		t.Fatal(err)
	}
	own := comparisonRow(t, out, "edgepipe likelihood", "own (")
	tuned := comparisonRow(t, out, "edgepipe likelihood", "tuned on these files")
	rawOwn := comparisonRow(t, out, "edgepipe raw", "own (")
	rawTuned := comparisonRow(t, out, "edgepipe raw", "tuned on these files")
	for i, p := range []string{"standard", "reward_low_FP_rate", "reward_low_FN_rate"} {
		if floor := [3]float64{40, 34, 43}[i]; own[i] < floor {
			t.Errorf("%s at the own threshold: %.1f, want ≥ %.0f", p, own[i], floor)
		}
		if floor := [3]float64{43, 36, 47}[i]; tuned[i] < floor {
			t.Errorf("%s tuned: %.1f, want ≥ %.0f", p, tuned[i], floor)
		}
		if own[i] <= rawOwn[i] || tuned[i] <= rawTuned[i] {
			t.Errorf("%s: likelihood %.1f (tuned %.1f) not above the raw scores %.1f (tuned %.1f)", p, own[i], tuned[i], rawOwn[i], rawTuned[i])
		}
	}
}
