package models

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestAdamSteps checks two Adam updates of a 1-1 network against values computed by hand
// from Kingma & Ba's Algorithm 1 (β1 0.9, β2 0.999, ε 1e-8, lr 0.1).
func TestAdamSteps(t *testing.T) {
	d := &Dense{layers: []layer{{W: mat.NewDense(1, 1, []float64{1}), B: []float64{0}, Act: ActLinear}}}
	opt := newAdam(d, 0.1, 0.9, 0.999, 1e-8)
	g := newGrads(d)
	g.W[0].Set(0, 0, 0.5)
	g.B[0][0] = -2
	opt.step(d, g)
	// Step 1: m̂ = g, v̂ = g², so Δ = lr·g/(|g|+ε) = 0.1·0.5/(0.5+1e-8) = 0.099999998.
	if w := d.layers[0].W.At(0, 0); math.Abs(w-(1-0.0999999980000001)) > 1e-15 {
		t.Errorf("w after step 1 = %.17g, want %.17g", w, 1-0.0999999980000001)
	}
	if b := d.layers[0].B[0]; math.Abs(b-0.09999999950000001) > 1e-15 {
		t.Errorf("b after step 1 = %.17g, want 0.0999999995", b)
	}
	// Step 2 with g = 1: m = 0.9·0.05+0.1·1 = 0.145, m̂ = 0.145/0.19; v = 0.999·0.00025 +
	// 0.001 = 0.00124975, v̂ = v/0.001999; Δ = 0.1·m̂/(√v̂+ε) = 0.09651820136149061.
	g.W[0].Set(0, 0, 1)
	opt.step(d, g)
	want := 1 - 0.0999999980000001 - 0.09651820136149061
	if w := d.layers[0].W.At(0, 0); math.Abs(w-want) > 1e-14 {
		t.Errorf("w after step 2 = %.17g, want %.17g", w, want)
	}
}
