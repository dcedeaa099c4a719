package models

import (
	"math"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// tiny221 is a 2-2-1 network with known weights: relu hidden, linear output.
func tiny221() *Dense {
	return &Dense{layers: []layer{
		{W: mat.NewDense(2, 2, []float64{1, -1, 2, 0.5}), B: []float64{0.5, -1}, Act: ActReLU},
		{W: mat.NewDense(2, 1, []float64{2, -3}), B: []float64{0.25}, Act: ActLinear},
	}}
}

func TestPredictByHand(t *testing.T) {
	d := tiny221()
	in := mat.NewDense(2, 2, []float64{1, 2, -1, 0.5})
	out := mat.NewDense(2, 1, nil)
	d.Predict(in, out)
	// Row 0: hidden = relu([1+4+0.5, -1+1-1]) = [5.5, 0]; out = 11 + 0.25.
	// Row 1: hidden = relu([-1+1+0.5, 1+0.25-1]) = [0.5, 0.25]; out = 1 - 0.75 + 0.25.
	if got := mat.Col(nil, 0, out); got[0] != 11.25 || got[1] != 0.5 {
		t.Fatalf("Predict = %v, want [11.25 0.5]", got)
	}
	if d.InputWidth() != 2 || d.OutputWidth() != 1 {
		t.Fatalf("widths %d, %d", d.InputWidth(), d.OutputWidth())
	}
}

func TestActivationsByHand(t *testing.T) {
	for _, c := range []struct {
		act      Activation
		in, want []float64
	}{
		{ActReLU, []float64{-1, 2}, []float64{0, 2}},
		{ActTanh, []float64{0, 1}, []float64{0, math.Tanh(1)}},
		{ActSigmoid, []float64{0, math.Log(3)}, []float64{0.5, 0.75}},
		{ActSoftmax, []float64{0, math.Log(3)}, []float64{0.25, 0.75}},
		{ActLinear, []float64{-1, 2}, []float64{-1, 2}},
	} {
		row := append([]float64(nil), c.in...)
		activate(c.act, row)
		for j := range row {
			if math.Abs(row[j]-c.want[j]) > 1e-15 {
				t.Errorf("%s(%v) = %v, want %v", c.act, c.in, row, c.want)
			}
		}
	}
}

func TestPredictPanicsOnShapeMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a 1×3 input to a 2-input network")
		}
	}()
	tiny221().Predict(mat.NewDense(1, 3, nil), mat.NewDense(1, 1, nil))
}

func TestNewDense(t *testing.T) {
	for _, c := range []struct {
		sizes []int
		acts  []Activation
	}{
		{[]int{3}, nil},
		{[]int{3, 2}, []Activation{ActTanh, ActLinear}},
		{[]int{3, 0}, []Activation{ActTanh}},
		{[]int{3, 2}, []Activation{"swish"}},
	} {
		if _, err := NewDense(c.sizes, c.acts, 1); err == nil {
			t.Errorf("NewDense(%v, %v) accepted", c.sizes, c.acts)
		}
	}
	a, err := NewDense([]int{400, 300, 2}, []Activation{ActReLU, ActLinear}, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewDense([]int{400, 300, 2}, []Activation{ActReLU, ActLinear}, 7)
	if !mat.Equal(a.layers[0].W, b.layers[0].W) {
		t.Error("same seed, different initial weights")
	}
	// He init: std √(2/400) ≈ 0.0707 over 120,000 weights.
	sd := math.Sqrt(mat.Sum(matSquare(a.layers[0].W)) / 120000)
	if math.Abs(sd-math.Sqrt(2.0/400)) > 0.002 {
		t.Errorf("relu layer weight std %v, want ≈ %v", sd, math.Sqrt(2.0/400))
	}
}

func matSquare(m *mat.Dense) *mat.Dense {
	var s mat.Dense
	s.MulElem(m, m)
	return &s
}

func TestPredictConcurrent(t *testing.T) {
	d, _ := NewDense([]int{8, 4, 8}, []Activation{ActTanh, ActLinear}, 3)
	in := mat.NewDense(5, 8, nil)
	for i := range 5 {
		for j := range 8 {
			in.Set(i, j, float64(i-j)/4)
		}
	}
	want := mat.NewDense(5, 8, nil)
	d.Predict(in, want)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				out := mat.NewDense(5, 8, nil)
				d.Predict(in, out)
				if !mat.Equal(out, want) {
					t.Error("concurrent Predict differs")
					return
				}
			}
		})
	}
	wg.Wait()
}
