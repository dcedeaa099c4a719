package models

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkPredict measures Predict of the default autoencoder (16→8→4→8→16) per batch.
func BenchmarkPredict(b *testing.B) {
	o := DefaultAnomalyOptions()
	sizes := append(append([]int{o.Window}, o.Hidden...), o.Window)
	d, err := NewDense(sizes, []Activation{ActTanh, ActTanh, ActTanh, ActLinear}, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			in := mat.NewDense(n, o.Window, nil)
			for i := range n {
				for j := range o.Window {
					in.Set(i, j, float64((i+j)%7)-3)
				}
			}
			out := mat.NewDense(n, o.Window, nil)
			b.ReportAllocs()
			for b.Loop() {
				d.Predict(in, out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
