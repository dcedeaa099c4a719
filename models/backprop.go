package models

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// grads holds the loss gradient of every layer's parameters (same shapes as W and B).
type grads struct {
	W []*mat.Dense
	B [][]float64
}

func newGrads(d *Dense) *grads {
	g := &grads{}
	for _, ly := range d.layers {
		r, c := ly.W.Dims()
		g.W = append(g.W, mat.NewDense(r, c, nil))
		g.B = append(g.B, make([]float64, c))
	}
	return g
}

// trainer holds a network's per-batch scratch: activations and their gradients.
type trainer struct {
	d    *Dense
	acts []*mat.Dense // acts[0] = input batch, acts[l+1] = output of layer l
	dA   []*mat.Dense // dA[l] = dLoss/d acts[l]
	g    *grads
}

func newTrainer(d *Dense) *trainer { return &trainer{d: d, g: newGrads(d)} }

// scratch returns m reshaped to r × c, reusing its memory when it is large enough.
func scratch(m *mat.Dense, r, c int) *mat.Dense {
	if m != nil {
		if raw := m.RawMatrix(); cap(raw.Data) >= r*c {
			return mat.NewDense(r, c, raw.Data[:r*c])
		}
	}
	return mat.NewDense(r, c, nil)
}

// lossGrad runs the batch x (n × in) forward, computes the loss against target t
// (n × out) — LossMSE: L = Σ (y−t)² / (n·out); LossCrossEntropy (softmax output): L =
// −Σ t·ln y / n — and back-propagates it (Rumelhart, Hinton & Williams 1986) into tr.g. It
// returns L.
func (tr *trainer) lossGrad(x, t *mat.Dense, loss Loss) float64 {
	layers := tr.d.layers
	n, _ := x.Dims()
	if len(tr.acts) != len(layers)+1 {
		tr.acts = make([]*mat.Dense, len(layers)+1)
		tr.dA = make([]*mat.Dense, len(layers)+1)
	}
	tr.acts[0] = x
	for l := range layers {
		_, c := layers[l].W.Dims()
		tr.acts[l+1] = scratch(tr.acts[l+1], n, c)
		layers[l].forward(tr.acts[l], tr.acts[l+1])
	}
	y := tr.acts[len(layers)]
	yr, yc := y.Dims()
	if tr_, tc := t.Dims(); tr_ != yr || tc != yc {
		panic(fmt.Sprintf("models: target %d×%d, want %d×%d", tr_, tc, yr, yc))
	}
	top := scratch(tr.dA[len(layers)], yr, yc)
	tr.dA[len(layers)] = top
	var value float64
	if loss == LossCrossEntropy {
		value = crossEntropyGrad(y, t, top) // top is dL/dZ of the output layer already
	} else {
		value = mseGrad(y, t, top)
	}
	for l := len(layers) - 1; l >= 0; l-- {
		dZ := tr.dA[l+1] // turned into dL/dZ in place
		if loss != LossCrossEntropy || l < len(layers)-1 {
			activationBackward(layers[l].Act, tr.acts[l+1], dZ)
		}
		tr.g.W[l].Mul(tr.acts[l].T(), dZ)
		gb := tr.g.B[l]
		for j := range gb {
			gb[j] = 0
		}
		for i := 0; i < n; i++ {
			for j, v := range dZ.RawRowView(i) {
				gb[j] += v
			}
		}
		if l > 0 {
			r, _ := layers[l].W.Dims()
			tr.dA[l] = scratch(tr.dA[l], n, r)
			tr.dA[l].Mul(dZ, layers[l].W.T())
		}
	}
	return value
}

// mseGrad writes dY = 2(y − t)/(n·out), the gradient of the mean squared error with
// respect to the outputs y (n × out), and returns the loss Σ (y−t)² / (n·out).
func mseGrad(y, t, dY *mat.Dense) float64 {
	n, c := y.Dims()
	dY.Sub(y, t)
	var loss float64
	scale := 2 / float64(n*c)
	for i := 0; i < n; i++ {
		row := dY.RawRowView(i)
		for j, e := range row {
			loss += e * e
			row[j] = e * scale
		}
	}
	return loss / float64(n*c)
}

// activationBackward turns dA (dL/d output) into dL/dZ in place, given the layer's outputs a.
func activationBackward(act Activation, a, dA *mat.Dense) {
	r, _ := a.Dims()
	for i := 0; i < r; i++ {
		ar, gr := a.RawRowView(i), dA.RawRowView(i)
		switch act {
		case ActReLU:
			for j, y := range ar {
				if y <= 0 {
					gr[j] = 0
				}
			}
		case ActTanh:
			for j, y := range ar {
				gr[j] *= 1 - y*y
			}
		case ActSigmoid:
			for j, y := range ar {
				gr[j] *= y * (1 - y)
			}
		case ActSoftmax:
			// dL/dz_j = y_j (g_j − Σ_k g_k y_k).
			var dot float64
			for j, y := range ar {
				dot += gr[j] * y
			}
			for j, y := range ar {
				gr[j] = y * (gr[j] - dot)
			}
		}
	}
}
