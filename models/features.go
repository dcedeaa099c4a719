package models

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ScaleAndFill z-scores one device's readings (n × F, physical units, NaN = missing) with s
// and replaces a NaN z by the previous reading's z for that field (0 when there is none).
// It returns n new rows. This is what the pipeline's normalize and fill operators do.
func ScaleAndFill(s Scaler, values [][]float64) [][]float64 {
	out := make([][]float64, len(values))
	for t, v := range values {
		z := make([]float64, len(v))
		s.Apply(v, z)
		for j := range z {
			if math.IsNaN(z[j]) {
				z[j] = 0
				if t > 0 {
					z[j] = out[t-1][j]
				}
			}
		}
		out[t] = z
	}
	return out
}

// Windows builds the model input rows of one device from its z rows (n × F, after NaN fill):
// row k (for reading t = k+window−1) is [z_{t−W+1}[0..F−1], …, z_t[0..F−1]], oldest first,
// time-major, so the result is (n−W+1) × (W·F). It returns nil when n < window, and panics
// when window < 1 or the rows have unequal lengths.
func Windows(z [][]float64, window int) *mat.Dense {
	if window < 1 {
		panic(fmt.Sprintf("models: Windows: window %d, want ≥ 1", window))
	}
	n := len(z)
	if n < window {
		return nil
	}
	f := len(z[0])
	rows := n - window + 1
	data := make([]float64, 0, rows*window*f)
	for k := 0; k < rows; k++ {
		for t := k; t < k+window; t++ {
			if len(z[t]) != f {
				panic(fmt.Sprintf("models: Windows: row %d has %d fields, want %d", t, len(z[t]), f))
			}
			data = append(data, z[t]...)
		}
	}
	return mat.NewDense(rows, window*f, data)
}

// ReconstructionErrors writes dst[i] = mean over columns of (out[i,j] − in[i,j])², the mean
// squared reconstruction error of row i: the anomaly score of an autoencoder, in squared
// z-score units. in and out are rows × c; it panics on a shape mismatch or
// len(dst) != rows.
func ReconstructionErrors(in, out *mat.Dense, dst []float64) {
	r, c := in.Dims()
	or, oc := out.Dims()
	if r != or || c != oc || len(dst) != r {
		panic(fmt.Sprintf("models: ReconstructionErrors: in %d×%d, out %d×%d, dst %d", r, c, or, oc, len(dst)))
	}
	for i := 0; i < r; i++ {
		a, b := in.RawRowView(i), out.RawRowView(i)
		var s float64
		for j := range a {
			e := b[j] - a[j]
			s += e * e
		}
		dst[i] = s / float64(c)
	}
}
