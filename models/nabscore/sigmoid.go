package nabscore

import "math"

// ScaledSigmoid is NAB's scoring function of a relative position y (nab/sweeper.py,
// scaledSigmoid): σ(y) = 2/(1+e^{5y}) − 1 for y ≤ 3, and −1 beyond. Inside a window y runs
// from −1 (its first row, σ = 0.98661) to 0 (just past its last row, σ = 0); after a
// window y > 0 is the distance past it in window lengths, and σ falls towards −1.
func ScaledSigmoid(y float64) float64 {
	if y > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*y)) - 1
}
