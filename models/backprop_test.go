package models

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestBackpropNumerically compares every analytic gradient with a central difference
// (L(θ+h) − L(θ−h)) / 2h on a network using every activation, for the mean squared error
// and for the softmax cross-entropy with its fused gradient.
func TestBackpropNumerically(t *testing.T) {
	for _, c := range []struct {
		out  Activation
		loss Loss
	}{{ActLinear, LossMSE}, {ActSoftmax, LossMSE}, {ActSigmoid, LossMSE}, {ActSoftmax, LossCrossEntropy}} {
		out, loss := c.out, c.loss
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
			var sum float64
			for j := range 3 {
				y.Set(i, j, math.Cos(float64(i+2*j))/2+0.5)
				sum += y.At(i, j)
			}
			if loss == LossCrossEntropy { // probability rows
				for j := range 3 {
					y.Set(i, j, y.At(i, j)/sum)
				}
			}
		}
		tr := newTrainer(d)
		tr.lossGrad(x, y, loss)
		analytic := tr.g.slices()
		const h = 1e-6
		for k, p := range params(d) {
			for i := range p {
				orig := p[i]
				p[i] = orig + h
				lp := newTrainer(d).lossGrad(x, y, loss)
				p[i] = orig - h
				lm := newTrainer(d).lossGrad(x, y, loss)
				p[i] = orig
				num := (lp - lm) / (2 * h)
				if diff := math.Abs(num - analytic[k][i]); diff > 1e-7+1e-5*math.Abs(num) {
					t.Errorf("out %s loss %s param %d[%d]: analytic %.10g, numeric %.10g", out, loss, k, i, analytic[k][i], num)
				}
			}
		}
	}
}
