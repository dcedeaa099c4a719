package nabscore

import (
	"math"
	"testing"
)

// TestScaledSigmoid checks σ(y) = 2/(1+e^{5y}) − 1 = tanh(−5y/2) at the points NAB's
// docstring names (σ(−1) = 0.98661, σ(−0.5) = 0.84828, σ(0) = 0, σ(1) = −0.98661) and its
// cut to −1 beyond y = 3.
func TestScaledSigmoid(t *testing.T) {
	for _, c := range []struct{ y, want float64 }{
		{-1, 0.98661429815143}, {-0.5, 0.84828363995751}, {0, 0}, {1, -0.98661429815143},
		{0.5, -0.84828363995751}, {3, math.Tanh(-7.5)}, {3.000001, -1}, {math.Inf(1), -1},
	} {
		if got := ScaledSigmoid(c.y); math.Abs(got-c.want) > 1e-13 {
			t.Errorf("ScaledSigmoid(%v) = %.15f, want %.15f", c.y, got, c.want)
		}
	}
}
