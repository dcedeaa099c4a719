package models

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/edgepipe/edgepipe/models/internal/gemm"
)

// weights32 returns the layers' weights packed for the float32 kernel, packing them on
// first use (two goroutines racing here pack twice, harmlessly).
func (d *Dense) weights32() []*gemm.Weights {
	if p := d.packed.Load(); p != nil {
		return *p
	}
	ws := make([]*gemm.Weights, len(d.layers))
	for l, ly := range d.layers {
		k, n := ly.W.Dims()
		raw := ly.W.RawMatrix()
		w := make([]float32, k*n)
		for i := 0; i < k; i++ {
			for j, v := range raw.Data[i*raw.Stride : i*raw.Stride+n] {
				w[i*n+j] = float32(v)
			}
		}
		b := make([]float32, n)
		for j, v := range ly.B {
			b[j] = float32(v)
		}
		ws[l] = gemm.Pack(k, n, w, n, b)
	}
	d.packed.Store(&ws)
	return ws
}

// rows32 holds predict32's scratch rows (a *[]float32) between calls: one buffer per
// concurrent call, each used by one call at a time.
var rows32 sync.Pool

// predict32 is Predict's computation for r rows: in is converted to float32, each layer
// is one packed product with the bias (and ReLU) fused, other activations are applied on
// the float32 rows, and the last layer's rows are converted into out. The layers' rows
// alternate between the two halves of a scratch buffer taken from rows32 (every value
// is written before it is read, so the buffer is not cleared).
func (d *Dense) predict32(r int, in, out *mat.Dense) {
	ws := d.weights32()
	c := d.InputWidth()
	w := c // the widest layer
	for _, wl := range ws {
		_, n := wl.Dims()
		w = max(w, n)
	}
	buf, _ := rows32.Get().(*[]float32)
	if buf == nil {
		buf = new([]float32)
	}
	defer rows32.Put(buf)
	if cap(*buf) < 2*r*w {
		*buf = make([]float32, 2*r*w)
	}
	half := [2][]float32{(*buf)[: r*w : r*w], (*buf)[r*w : 2*r*w : 2*r*w]}
	a := half[0][:r*c]
	raw := in.RawMatrix()
	for i := 0; i < r; i++ {
		for j, v := range raw.Data[i*raw.Stride : i*raw.Stride+c] {
			a[i*c+j] = float32(v)
		}
	}
	for l, ly := range d.layers {
		_, n := ws[l].Dims()
		dst := half[(l+1)%2][:r*n]
		act := gemm.Linear
		if ly.Act == ActReLU {
			act = gemm.ReLU
		}
		ws[l].Apply(r, a, c, act, dst, n)
		if ly.Act != ActReLU && ly.Act != ActLinear {
			for i := 0; i < r; i++ {
				activate32(ly.Act, dst[i*n:(i+1)*n])
			}
		}
		a, c = dst, n
	}
	o := out.RawMatrix()
	for i := 0; i < r; i++ {
		row := o.Data[i*o.Stride : i*o.Stride+c]
		for j := range row {
			row[j] = float64(a[i*c+j])
		}
	}
}

// activate32 applies tanh, sigmoid or softmax to one float32 row in place, computing in
// float64 as activate does.
func activate32(act Activation, row []float32) {
	switch act {
	case ActTanh:
		for j, z := range row {
			row[j] = float32(math.Tanh(float64(z)))
		}
	case ActSigmoid:
		for j, z := range row {
			row[j] = float32(1 / (1 + math.Exp(-float64(z))))
		}
	case ActSoftmax:
		mx := math.Inf(-1)
		for _, z := range row {
			mx = math.Max(mx, float64(z))
		}
		var sum float64
		for _, z := range row {
			sum += math.Exp(float64(z) - mx)
		}
		for j, z := range row {
			row[j] = float32(math.Exp(float64(z)-mx) / sum)
		}
	}
}
