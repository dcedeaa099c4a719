package models

import (
	"fmt"
	"math"
	"math/rand"
	"sync/atomic"

	"github.com/edgepipe/edgepipe/models/internal/gemm"

	"gonum.org/v1/gonum/mat"
)

// Activation names a layer's element-wise (or, for softmax, row-wise) output function.
type Activation string

// The supported activations.
const (
	ActReLU    Activation = "relu"    // max(0, z)
	ActTanh    Activation = "tanh"    // tanh(z)
	ActSigmoid Activation = "sigmoid" // 1/(1+e^-z)
	ActSoftmax Activation = "softmax" // e^z_j / Σ_k e^z_k per row
	ActLinear  Activation = "linear"  // z
)

func (a Activation) valid() bool {
	switch a {
	case ActReLU, ActTanh, ActSigmoid, ActSoftmax, ActLinear:
		return true
	}
	return false
}

// layer is one fully connected layer: out = act(in·W + b), W is in × out, b has out entries.
type layer struct {
	W   *mat.Dense
	B   []float64
	Act Activation
}

// Dense is a feed-forward network of fully connected layers on gonum mat.Dense. Rows are
// samples: a layer maps a batch rows × in to rows × out. It implements Model; Predict is
// safe for concurrent use, SetMeta and training are not (finish them before serving).
type Dense struct {
	layers []layer
	meta   Meta
	// packed holds the layers' weights packed for the float32 kernel (predict32.go), built
	// on first use; training stores nil after each weight update.
	packed atomic.Pointer[[]*gemm.Weights]
}

// NewDense builds a network with layer widths sizes (input, hidden…, output) and one
// activation per layer (len(acts) == len(sizes)-1). Weights are drawn from a seeded normal
// distribution: He init (std √(2/in), He et al. 2015) before relu, Glorot/Xavier (std
// √(2/(in+out)), Glorot & Bengio 2010) otherwise; biases start at 0. It returns an error
// for fewer than two sizes, a non-positive width, a count mismatch or an unknown
// activation.
func NewDense(sizes []int, acts []Activation, seed int64) (*Dense, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("models: NewDense: need at least 2 sizes (input, output), got %d", len(sizes))
	}
	if len(acts) != len(sizes)-1 {
		return nil, fmt.Errorf("models: NewDense: %d activations for %d layers", len(acts), len(sizes)-1)
	}
	for i, s := range sizes {
		if s <= 0 {
			return nil, fmt.Errorf("models: NewDense: size %d is %d, want > 0", i, s)
		}
	}
	rng := rand.New(rand.NewSource(seed))
	d := &Dense{}
	for l, act := range acts {
		if !act.valid() {
			return nil, fmt.Errorf("models: NewDense: layer %d: unknown activation %q", l, act)
		}
		in, out := sizes[l], sizes[l+1]
		std := math.Sqrt(2 / float64(in+out))
		if act == ActReLU {
			std = math.Sqrt(2 / float64(in))
		}
		w := make([]float64, in*out)
		for i := range w {
			w[i] = rng.NormFloat64() * std
		}
		d.layers = append(d.layers, layer{W: mat.NewDense(in, out, w), B: make([]float64, out), Act: act})
	}
	return d, nil
}

// InputWidth is the number of input columns.
func (d *Dense) InputWidth() int { r, _ := d.layers[0].W.Dims(); return r }

// OutputWidth is the number of output columns.
func (d *Dense) OutputWidth() int { _, c := d.layers[len(d.layers)-1].W.Dims(); return c }

// Meta returns the model's metadata.
func (d *Dense) Meta() Meta { return d.meta }

// SetMeta replaces the metadata. Version is recomputed as the content hash of the model
// (weights and metadata), so any Version in m is ignored. Not safe concurrently with
// Predict or Meta.
func (d *Dense) SetMeta(m Meta) {
	m.Version = ""
	d.meta = m
	d.meta.Version = d.contentHash()
}

// Predict computes out (rows × OutputWidth()) from in (rows × InputWidth()) in float32
// with the packed kernels of models/internal/gemm (AVX2/FMA assembly on amd64, pure Go
// elsewhere): within 1e-4 (relative to the largest output) of the float64 computation
// Predict64 does, several times faster. It panics on a shape mismatch. Each call takes its
// own scratch (2 × rows × the widest layer float32, reused from call to call through a
// sync.Pool), so concurrent calls are safe; the weights are packed on the first call
// after a change (training).
func (d *Dense) Predict(in, out *mat.Dense) {
	r := d.checkDims("Predict", in, out)
	d.predict32(r, in, out)
}

// Predict64 is Predict in float64 with gonum's matrix multiply: the reference Predict is
// checked against, and what training uses (its results, and so the model files it writes,
// do not depend on the processor's float32 kernel). Same shapes, panics and concurrency.
func (d *Dense) Predict64(in, out *mat.Dense) {
	r := d.checkDims("Predict64", in, out)
	a := in
	for l := range d.layers {
		dst := out
		if l < len(d.layers)-1 {
			_, w := d.layers[l].W.Dims()
			dst = mat.NewDense(r, w, nil)
		}
		d.layers[l].forward(a, dst)
		a = dst
	}
}

// checkDims panics unless in is rows × InputWidth() and out rows × OutputWidth(); it
// returns rows.
func (d *Dense) checkDims(name string, in, out *mat.Dense) int {
	r, c := in.Dims()
	or, oc := out.Dims()
	if c != d.InputWidth() || or != r || oc != d.OutputWidth() {
		panic(fmt.Sprintf("models: %s: in %d×%d, out %d×%d, want in n×%d and out n×%d",
			name, r, c, or, oc, d.InputWidth(), d.OutputWidth()))
	}
	return r
}

// forward writes dst = act(a·W + b).
func (ly *layer) forward(a, dst *mat.Dense) {
	dst.Mul(a, ly.W)
	r, c := dst.Dims()
	raw := dst.RawMatrix()
	for i := 0; i < r; i++ {
		row := raw.Data[i*raw.Stride : i*raw.Stride+c]
		for j := range row {
			row[j] += ly.B[j]
		}
		activate(ly.Act, row)
	}
}

// activate applies act to one row in place.
func activate(act Activation, row []float64) {
	switch act {
	case ActReLU:
		for j, z := range row {
			if z < 0 {
				row[j] = 0
			}
		}
	case ActTanh:
		for j, z := range row {
			row[j] = math.Tanh(z)
		}
	case ActSigmoid:
		for j, z := range row {
			row[j] = 1 / (1 + math.Exp(-z))
		}
	case ActSoftmax:
		mx := math.Inf(-1)
		for _, z := range row {
			mx = math.Max(mx, z)
		}
		var sum float64
		for j, z := range row {
			row[j] = math.Exp(z - mx)
			sum += row[j]
		}
		for j := range row {
			row[j] /= sum
		}
	}
}
