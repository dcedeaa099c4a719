package models

import (
	"math"
	"strings"
	"testing"
)

// TestLikelihoodUpdate feeds a hand-worked stream through a small Likelihood: learning
// period 2, 3 estimation samples, W = 3, W′ = 2, re-estimated every 3 rows.
func TestLikelihoodUpdate(t *testing.T) {
	o := LikelihoodOptions{LearningPeriod: 2, EstimationSamples: 3, HistoricWindow: 3, AveragingWindow: 2, ReestimationPeriod: 3}
	// Short-term averages μ̃ (W′ = 2): rows 0–10 → 1, 1, 0.525, 0.05, 0.05, 0.05, 0.275, 0.5,
	// 0.275, 0.05, 0.05.
	scores := []float64{1, 1, 0.05, 0.05, 0.05, 0.05, 0.5, 0.5, 0.05, 0.05, 0.05}
	// Row 5: first estimate over rows 2–4 (rows 0–1 are the learning period):
	// μ = (0.525 + 0.05 + 0.05)/3 = 0.208333, σ² = (0.316667² + 2·0.158333²)/3 = 0.0501389.
	// Row 6: re-estimate over rows 3–5 (W = 3): μ = 0.05, σ² = 0 → floor 0.0003; μ̃ = 0.275 is
	// 13σ above: red. Rows 7 and 8 are red too, right after red: yellow (0.999).
	// Row 9: re-estimate over rows 6–8: μ = 0.35, σ² = (2·0.075² + 0.15²)/3 = 0.01125; μ̃ =
	// 0.05 lies 2.83σ below μ: likelihood Q(2.83) = 0.00234, not 0.998 (one-sided).
	want := []float64{
		0.5, 0.5, 0.5, 0.5, 0.5,
		0.23975006109347674, // 1 − Q((0.05 − μ)/σ) = 1 − Q(−0.70725)
		1,                   // 1 − Q(12.99) = 1 − 7e-39
		1 - LikelihoodYellow, 1 - LikelihoodYellow,
		0.0023388674905235884, 0.0023388674905235884, // 1 − Q(−2.8284)
	}
	l, err := NewLikelihood(o)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range scores {
		if got := l.Update(s); math.Abs(got-want[i]) > 1e-12 {
			t.Errorf("row %d: likelihood %v, want %v", i, got, want[i])
		}
	}

	// A NaN score is skipped: the same stream with NaNs in it gives the same likelihoods.
	l, _ = NewLikelihood(o)
	for i, s := range scores {
		if i == 3 || i == 7 {
			if got := l.Update(math.NaN()); !math.IsNaN(got) {
				t.Errorf("NaN score before row %d: likelihood %v, want NaN", i, got)
			}
		}
		if got := l.Update(s); math.Abs(got-want[i]) > 1e-12 {
			t.Errorf("with NaNs, row %d: likelihood %v, want %v", i, got, want[i])
		}
	}
}

// TestLikelihoodFloors checks the mean floor 0.03 and the variance floor 0.0003: after a
// run of zeros, a short-term average of 0.1 is (0.1 − 0.03)/√0.0003 = 4.04σ above the mean,
// tail 2.66e-5: not red (without the mean floor it would be 5.8σ, red).
func TestLikelihoodFloors(t *testing.T) {
	o := LikelihoodOptions{LearningPeriod: 0, EstimationSamples: 5, HistoricWindow: 5, AveragingWindow: 1, ReestimationPeriod: 100}
	l, err := NewLikelihood(o)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		l.Update(0)
	}
	if got, want := l.Update(0.1), 0.9999734393592029; math.Abs(got-want) > 1e-12 {
		t.Errorf("likelihood %v, want %v", got, want)
	}
	// Still not red, so the next one is not turned yellow.
	if got, want := l.Update(0.1), 0.9999734393592029; math.Abs(got-want) > 1e-12 {
		t.Errorf("second row: likelihood %v, want %v", got, want)
	}
}

// TestLikelihoodOnset checks that a lasting anomaly is red at its onset, yellow while it
// lasts, and red again at a new onset after it ended.
func TestLikelihoodOnset(t *testing.T) {
	o := LikelihoodOptions{LearningPeriod: 0, EstimationSamples: 4, HistoricWindow: 4, AveragingWindow: 1, ReestimationPeriod: 1000}
	l, err := NewLikelihood(o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range []float64{0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.1, 0.9} {
		switch v := l.Update(s); {
		case v >= 1-LikelihoodEpsilon:
			got = append(got, "red")
		case v == 1-LikelihoodYellow:
			got = append(got, "yellow")
		default:
			got = append(got, "-")
		}
	}
	if want := "- - - - red yellow yellow - red"; strings.Join(got, " ") != want {
		t.Errorf("levels %q, want %q", strings.Join(got, " "), want)
	}
}

func TestNewLikelihoodRejects(t *testing.T) {
	ok := LikelihoodOptions{LearningPeriod: 0, EstimationSamples: 1, HistoricWindow: 1, AveragingWindow: 1, ReestimationPeriod: 1}
	if _, err := NewLikelihood(ok); err != nil {
		t.Fatalf("smallest valid options: %v", err)
	}
	for _, c := range []struct {
		edit func(*LikelihoodOptions)
		want string
	}{
		{func(o *LikelihoodOptions) { o.LearningPeriod = -1 }, "learning period -1"},
		{func(o *LikelihoodOptions) { o.EstimationSamples = 0 }, "estimation samples 0"},
		{func(o *LikelihoodOptions) { o.EstimationSamples = 2 }, "historic window 1, want ≥ the estimation samples (2)"},
		{func(o *LikelihoodOptions) { o.AveragingWindow = 0 }, "averaging window 0"},
		{func(o *LikelihoodOptions) { o.ReestimationPeriod = 0 }, "re-estimation period 0"},
	} {
		o := ok
		c.edit(&o)
		if _, err := NewLikelihood(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", o, err, c.want)
		}
	}
}

func TestLikelihoodOptions(t *testing.T) {
	d := DefaultLikelihoodOptions()
	if d != (LikelihoodOptions{288, 100, 8640, 10, 100}) {
		t.Errorf("defaults %+v", d)
	}
	for _, c := range []struct{ p, learn, est int }{{750, 375, 375}, {601, 300, 301}, {2, 1, 1}} {
		o := NABLikelihoodOptions(c.p)
		if o.LearningPeriod != c.learn || o.EstimationSamples != c.est || o.HistoricWindow != 8640 || o.AveragingWindow != 10 || o.ReestimationPeriod != 100 {
			t.Errorf("NABLikelihoodOptions(%d) = %+v, want learning %d, estimation %d", c.p, o, c.learn, c.est)
		}
	}
}

func TestLogLikelihood(t *testing.T) {
	for _, c := range []struct{ l, want float64 }{
		{0.5, 0.03010299955771223}, // ≈ log10(2)/10: NAB's numenta output during probation
		{1 - LikelihoodYellow, 0.299999995657055},
		{1 - LikelihoodEpsilon, 0.49999956570785126}, // (5 − log10(1.00001))/10
		{1, 0.9999999964066315},
		{0, 0}, // ln(1.0000000001)/ln(1e-10) < 0, clamped
	} {
		if got := LogLikelihood(c.l); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("LogLikelihood(%v) = %v, want %v", c.l, got, c.want)
		}
	}
	if got := LogLikelihood(math.NaN()); !math.IsNaN(got) {
		t.Errorf("LogLikelihood(NaN) = %v", got)
	}
}
