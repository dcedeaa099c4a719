package models

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestBackpropNumerically compares every analytic gradient with a central difference
// (L(θ+h) − L(θ−h)) / 2h on a network using every activation.
func TestBackpropNumerically(t *testing.T) {
	for _, out := range []Activation{ActLinear, ActSoftmax, ActSigmoid} {
		d, err := NewDense([]int{4, 5, 3, 4, 3}, []Activation{ActTanh, ActReLU, ActSigmoid, out}, 11)
		if err != nil {
			t.Fatal(err)
		}
		for _, ly := range d.layers {
			for j := range ly.B {
				ly.B[j] = 0.1 * float64(j+1) // non-zero biases keep relu units off their kink
			}
		}
		x := mat.NewDense(6, 4, nil)
		y := mat.NewDense(6, 3, nil)
		for i := range 6 {
			for j := range 4 {
				x.Set(i, j, math.Sin(float64(3*i+j)))
			}
			for j := range 3 {
				y.Set(i, j, math.Cos(float64(i+2*j))/2+0.5)
			}
		}
		tr := newTrainer(d)
		tr.lossGrad(x, y)
		analytic := tr.g.slices()
		const h = 1e-6
		for k, p := range params(d) {
			for i := range p {
				orig := p[i]
				p[i] = orig + h
				lp := newTrainer(d).lossGrad(x, y)
				p[i] = orig - h
				lm := newTrainer(d).lossGrad(x, y)
				p[i] = orig
				num := (lp - lm) / (2 * h)
				if diff := math.Abs(num - analytic[k][i]); diff > 1e-7+1e-5*math.Abs(num) {
					t.Errorf("out %s param %d[%d]: analytic %.10g, numeric %.10g", out, k, i, analytic[k][i], num)
				}
			}
		}
	}
}
