package models

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkPredict measures Predict per batch of 1, 16, 64 and 256 rows for the demo
// autoencoder (16→8→4→8→16 tanh, linear output) and for the MNIST MLP (784→500→10, relu,
// softmax), reporting samples/s and ns/row.
func BenchmarkPredict(b *testing.B) {
	o := DefaultAnomalyOptions()
	ae, err := NewDense(append(append([]int{o.Window}, o.Hidden...), o.Window), []Activation{ActTanh, ActTanh, ActTanh, ActLinear}, 1)
	if err != nil {
		b.Fatal(err)
	}
	mlp, err := NewDense([]int{784, 500, 10}, []Activation{ActReLU, ActSoftmax}, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		d    *Dense
	}{{"autoencoder-16-8-4-8-16", ae}, {"mlp-784-500-10", mlp}} {
		in, out := c.d.InputWidth(), c.d.OutputWidth()
		for _, n := range []int{1, 16, 64, 256} {
			b.Run(fmt.Sprintf("%s/batch=%d", c.name, n), func(b *testing.B) {
				x := mat.NewDense(n, in, nil)
				for i := range n {
					for j := range in {
						x.Set(i, j, float64((i+j)%7)-3)
					}
				}
				y := mat.NewDense(n, out, nil)
				b.ReportAllocs()
				for b.Loop() {
					c.d.Predict(x, y)
				}
				rows := float64(b.N * n)
				b.ReportMetric(rows/b.Elapsed().Seconds(), "samples/s")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
			})
		}
	}
}
