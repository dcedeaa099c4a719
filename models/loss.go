package models

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Loss names the training objective of Train.
type Loss string

// The supported losses. n is the number of rows of a batch, K the output width.
const (
	// LossMSE is the mean squared error Σ (y−t)² / (n·K), for any output activation.
	LossMSE Loss = "mse"
	// LossCrossEntropy is the categorical cross-entropy −Σ t·ln y / n for a softmax output
	// layer and target rows that are probability vectors (one-hot for hard labels). Its
	// gradient with respect to the softmax input is the fused (y − t)/n (Bishop, "Pattern
	// Recognition and Machine Learning", 2006, eq. 4.109), which avoids the softmax Jacobian.
	LossCrossEntropy Loss = "cross-entropy"
)

// minProb bounds a probability below inside ln, so an output that underflowed to 0
// contributes a large finite loss (−ln 1e-300 ≈ 691) instead of +Inf.
const minProb = 1e-300

func (l Loss) valid() bool { return l == LossMSE || l == LossCrossEntropy }

// lossOf returns the loss of outputs y against targets t (both n × K): the same value the
// training step reports for that batch.
func lossOf(l Loss, y, t *mat.Dense) float64 {
	n, k := y.Dims()
	var sum float64
	for i := 0; i < n; i++ {
		yr, tr := y.RawRowView(i), t.RawRowView(i)
		for j, v := range yr {
			if l == LossMSE {
				e := v - tr[j]
				sum += e * e
			} else if tr[j] != 0 {
				sum -= tr[j] * math.Log(math.Max(v, minProb))
			}
		}
	}
	if l == LossMSE {
		return sum / float64(n*k)
	}
	return sum / float64(n)
}

// crossEntropyGrad writes dZ = (y − t)/n, the gradient of the mean cross-entropy with
// respect to the input of the softmax output layer, and returns the loss.
func crossEntropyGrad(y, t, dZ *mat.Dense) float64 {
	n, _ := y.Dims()
	dZ.Sub(y, t)
	dZ.Scale(1/float64(n), dZ)
	return lossOf(LossCrossEntropy, y, t)
}

// checkTargets checks that every target row is finite and, for the cross-entropy, a
// probability vector: entries ≥ 0 summing to 1 (within 1e-6).
func checkTargets(l Loss, t *mat.Dense) error {
	n, _ := t.Dims()
	for i := 0; i < n; i++ {
		var sum float64
		for j, v := range t.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("target row %d column %d is %v", i, j, v)
			}
			if l == LossCrossEntropy && v < 0 {
				return fmt.Errorf("target row %d column %d is %v: cross-entropy targets are probabilities", i, j, v)
			}
			sum += v
		}
		if l == LossCrossEntropy && math.Abs(sum-1) > 1e-6 {
			return fmt.Errorf("target row %d sums to %v: cross-entropy targets are probability rows (one-hot)", i, sum)
		}
	}
	return nil
}
