package models

import (
	"fmt"
	"math"
)

// LikelihoodEpsilon is the paper's default ε: a row is an anomaly when its likelihood is
// ≥ 1 − ε. It is also the reference implementation's "red" level: a tail probability ≤ ε
// that follows one ≤ ε is reported as LikelihoodYellow (see Likelihood.Update).
const LikelihoodEpsilon = 1e-5

// LikelihoodYellow is the tail probability (1 − likelihood) reported for a row whose tail
// probability is ≤ LikelihoodEpsilon when the previous row's was too: the reference
// implementation's "yellow" level (likelihood 0.999).
const LikelihoodYellow = 1e-3

// Floors of the fitted normal distribution, from the reference implementation
// (estimateNormal): without them a run of near-zero scores makes the slightest blip red.
// They are in the units of raw scores in [0, 1].
const (
	likelihoodMinMean     = 0.03
	likelihoodMinVariance = 0.0003
)

// LikelihoodOptions configure a Likelihood. Counts are rows (one raw score per row).
type LikelihoodOptions struct {
	// LearningPeriod rows at the start are never used to estimate the distribution: the
	// detector's warm-up, when its raw scores are not yet meaningful (≥ 0).
	LearningPeriod int
	// EstimationSamples further rows are collected before the first estimate (≥ 1);
	// Update returns 0.5 for the first LearningPeriod + EstimationSamples rows.
	EstimationSamples int
	// HistoricWindow is W: the distribution is estimated from the short-term averages of
	// at most the latest W rows (≥ EstimationSamples).
	HistoricWindow int
	// AveragingWindow is W′: the short-term average of a row is the mean raw score of the
	// latest W′ rows, itself included (≥ 1).
	AveragingWindow int
	// ReestimationPeriod: the distribution is re-estimated every this many rows (≥ 1).
	ReestimationPeriod int
}

// DefaultLikelihoodOptions returns the reference implementation's defaults: learning period
// 288 rows, 100 estimation samples, W = 8640 (a month of 5-minute rows), W′ = 10 (the
// paper's values of W and W′), re-estimated every 100 rows.
func DefaultLikelihoodOptions() LikelihoodOptions {
	return LikelihoodOptions{
		LearningPeriod: 288, EstimationSamples: 100, HistoricWindow: 8640,
		AveragingWindow: 10, ReestimationPeriod: 100,
	}
}

// NABLikelihoodOptions returns the options NAB's numenta detector uses on a stream whose
// probationary period is p rows (ProbationaryRows; p ≥ 2): learning period ⌊p/2⌋,
// estimation samples p − ⌊p/2⌋, so likelihoods start after the probationary period; the
// other options are DefaultLikelihoodOptions.
func NABLikelihoodOptions(p int) LikelihoodOptions {
	o := DefaultLikelihoodOptions()
	o.LearningPeriod = p / 2
	o.EstimationSamples = p - p/2
	return o
}

func (o LikelihoodOptions) check() error {
	switch {
	case o.LearningPeriod < 0:
		return fmt.Errorf("learning period %d, want ≥ 0", o.LearningPeriod)
	case o.EstimationSamples < 1:
		return fmt.Errorf("estimation samples %d, want ≥ 1", o.EstimationSamples)
	case o.HistoricWindow < o.EstimationSamples:
		return fmt.Errorf("historic window %d, want ≥ the estimation samples (%d)", o.HistoricWindow, o.EstimationSamples)
	case o.AveragingWindow < 1:
		return fmt.Errorf("averaging window %d, want ≥ 1", o.AveragingWindow)
	case o.ReestimationPeriod < 1:
		return fmt.Errorf("re-estimation period %d, want ≥ 1", o.ReestimationPeriod)
	}
	return nil
}

// Likelihood turns one stream's raw anomaly scores (in [0, 1]) into anomaly likelihoods,
// one row at a time: the anomaly likelihood of Ahmad, Lavin, Purdy & Agha, "Unsupervised
// real-time anomaly detection for streaming data", Neurocomputing 262 (2017), section 4.2,
// as Numenta's reference implementation computes it (NuPIC
// nupic.algorithms.anomaly_likelihood, which NAB's numenta detector runs for its published
// results). It models the recent distribution of the raw scores and reports how unlikely
// the latest short-term average is, so a detector whose scores stay high for a while, or
// drift, is judged against its own recent behaviour rather than a fixed threshold.
//
// Memory: HistoricWindow + AveragingWindow floats. Update costs O(AveragingWindow), and
// O(HistoricWindow) every ReestimationPeriod rows. It is not safe for concurrent use; use
// one per stream (device).
type Likelihood struct {
	o LikelihoodOptions
	n int // rows seen (non-NaN scores)

	raw      []float64 // ring of the latest AveragingWindow raw scores
	averages []float64 // ring of the latest HistoricWindow short-term averages

	estimated bool
	mean, std float64
	prevAvg   float64 // the previous row's short-term average
	prevRed   bool    // the previous row's tail probability (current distribution) was ≤ ε
}

// NewLikelihood returns a Likelihood with options o. It returns an error when an option is
// out of the ranges LikelihoodOptions gives.
func NewLikelihood(o LikelihoodOptions) (*Likelihood, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("models: NewLikelihood: %w", err)
	}
	return &Likelihood{
		o: o, raw: make([]float64, 0, o.AveragingWindow), averages: make([]float64, 0, o.HistoricWindow),
	}, nil
}

// Update takes the next row's raw anomaly score s and returns its anomaly likelihood in
// [0, 1] (paper, eq. 4–6, with the reference implementation's details):
//
//   - μ̃ = the mean of the latest W′ raw scores, s included (fewer at the start);
//   - μ, σ = the mean and population standard deviation of the short-term averages μ̃ of
//     the latest W rows before this one, leaving out the LearningPeriod first rows of the
//     stream; re-estimated every ReestimationPeriod rows; μ is at least 0.03 and σ² at
//     least 0.0003. (The paper writes μ, σ over the raw scores; the reference
//     implementation, whose results NAB publishes, fits the averages, as here.)
//   - tail = Q((μ̃ − μ)/σ), Q the standard normal upper tail probability: one-sided, as
//     in the paper, so a score below the usual level is never an anomaly (the reference
//     code mirrors μ̃ < μ to the upper tail);
//   - a tail ≤ LikelihoodEpsilon right after a row whose tail (under the current
//     distribution) was also ≤ LikelihoodEpsilon becomes LikelihoodYellow, so a lasting
//     anomaly is reported red at its onset only (the reference _filterLikelihoods);
//   - likelihood = 1 − tail.
//
// The first LearningPeriod + EstimationSamples rows give 0.5. A NaN s is skipped: nothing
// is stored and Update returns NaN.
func (l *Likelihood) Update(s float64) float64 {
	if math.IsNaN(s) {
		return math.NaN()
	}
	if len(l.raw) == cap(l.raw) {
		l.raw[l.n%len(l.raw)] = s
	} else {
		l.raw = append(l.raw, s)
	}
	var sum float64
	for _, v := range l.raw {
		sum += v
	}
	avg := sum / float64(len(l.raw))

	out := 0.5
	if l.n >= l.o.LearningPeriod+l.o.EstimationSamples {
		if !l.estimated || l.n%l.o.ReestimationPeriod == 0 {
			l.estimate()
			l.prevRed = l.tail(l.prevAvg) <= LikelihoodEpsilon
		}
		tail := l.tail(avg)
		red := tail <= LikelihoodEpsilon
		if red && l.prevRed {
			tail = LikelihoodYellow
		}
		l.prevRed = red
		out = 1 - tail
	}

	if len(l.averages) == cap(l.averages) {
		l.averages[l.n%len(l.averages)] = avg
	} else {
		l.averages = append(l.averages, avg)
	}
	l.prevAvg = avg
	l.n++
	return out
}

// estimate fits the normal distribution to the stored averages of rows ≥ LearningPeriod.
func (l *Likelihood) estimate() {
	// The ring holds rows n−len … n−1; row r sits at r % cap.
	first := max(l.n-len(l.averages), l.o.LearningPeriod)
	var sum float64
	for r := first; r < l.n; r++ {
		sum += l.averages[r%cap(l.averages)]
	}
	k := float64(l.n - first)
	mean := sum / k
	var ss float64
	for r := first; r < l.n; r++ {
		d := l.averages[r%cap(l.averages)] - mean
		ss += d * d
	}
	l.mean = max(mean, likelihoodMinMean)
	l.std = math.Sqrt(max(ss/k, likelihoodMinVariance))
	l.estimated = true
}

// tail is the upper tail probability of x under the fitted normal distribution.
func (l *Likelihood) tail(x float64) float64 {
	return 0.5 * math.Erfc((x-l.mean)/(l.std*math.Sqrt2))
}

// LogLikelihood maps a likelihood L in [0, 1] to the log scale that NAB's numenta detector
// writes as its anomaly_score (reference implementation, computeLogLikelihood):
// ln(1.0000000001 − L) / ln(1e-10), clamped to [0, 1]. L = 0.5 gives 0.0301, L = 0.999
// (LikelihoodYellow) 0.3, L = 1 − 1e-5 (LikelihoodEpsilon) 0.4999996, L = 1 gives 1. It is
// increasing in L, so thresholding it at LogLikelihood(1 − ε) is the paper's rule L ≥ 1 − ε.
// NaN gives NaN.
func LogLikelihood(l float64) float64 {
	return min(max(math.Log(1.0000000001-l)/math.Log(1e-10), 0), 1)
}
