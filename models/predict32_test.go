package models

import (
	"math"
	"math/rand"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// Predict (float32 kernels) stays within 1e-4 of Predict64 (float64, gonum), relative to
// the largest output, for every activation and for the shapes edgepipe ships: the demo
// autoencoder 16-8-4-8-16 and the MNIST MLP 784-500-10; odd batch sizes included.
func TestPredictMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, tc := range []struct {
		sizes []int
		acts  []Activation
	}{
		{[]int{16, 8, 4, 8, 16}, []Activation{ActTanh, ActTanh, ActTanh, ActLinear}},
		{[]int{784, 500, 10}, []Activation{ActReLU, ActSoftmax}},
		{[]int{5, 7, 3}, []Activation{ActSigmoid, ActSoftmax}},
		{[]int{3, 2}, []Activation{ActLinear}},
	} {
		d, err := NewDense(tc.sizes, tc.acts, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, rows := range []int{1, 7, 64, 65} {
			in := mat.NewDense(rows, tc.sizes[0], nil)
			for i := range rows {
				for j := range tc.sizes[0] {
					in.Set(i, j, rng.NormFloat64())
				}
			}
			o := tc.sizes[len(tc.sizes)-1]
			got, want := mat.NewDense(rows, o, nil), mat.NewDense(rows, o, nil)
			d.Predict(in, got)
			d.Predict64(in, want)
			scale := mat.Norm(want, math.Inf(1))
			var worst float64
			for i := range rows {
				for j := range o {
					worst = math.Max(worst, math.Abs(got.At(i, j)-want.At(i, j)))
				}
			}
			if worst > 1e-4*math.Max(scale, 1e-3) || math.IsNaN(worst) {
				t.Errorf("%v × %d rows: largest difference %g (outputs up to %g)", tc.sizes, rows, worst, scale)
			}
		}
	}
}

// Training changes the weights: the next Predict uses the new ones, not a stale packed copy.
func TestPredictAfterTrainingStep(t *testing.T) {
	d, err := NewDense([]int{2, 2}, []Activation{ActLinear}, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := mat.NewDense(1, 2, []float64{1, 2})
	before := mat.NewDense(1, 2, nil)
	d.Predict(x, before)
	tr := newTrainer(d)
	tr.lossGrad(x, mat.NewDense(1, 2, []float64{5, -5}), LossMSE)
	newAdam(d, 0.1, 0.9, 0.999, 1e-8).step(d, tr.g)
	got, want := mat.NewDense(1, 2, nil), mat.NewDense(1, 2, nil)
	d.Predict(x, got)
	d.Predict64(x, want)
	if mat.EqualApprox(got, before, 1e-6) || !mat.EqualApprox(got, want, 1e-5) {
		t.Fatalf("after a step: Predict %v, before %v, Predict64 %v", mat.Formatted(got), mat.Formatted(before), mat.Formatted(want))
	}
}
