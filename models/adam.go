package models

import "math"

// adam is the Adam optimiser (Kingma & Ba, "Adam: A Method for Stochastic Optimization",
// ICLR 2015, Algorithm 1) over all of a network's weights and biases.
type adam struct {
	lr, beta1, beta2, eps float64
	t                     int
	m, v                  [][]float64 // per parameter slice: first and second moment
}

// newAdam returns the optimiser for d's parameters with step size lr (α), moment decay
// rates beta1 and beta2 and the denominator term eps (the paper's defaults: 0.001, 0.9,
// 0.999, 1e-8; DefaultFitOptions).
func newAdam(d *Dense, lr, beta1, beta2, eps float64) *adam {
	a := &adam{lr: lr, beta1: beta1, beta2: beta2, eps: eps}
	for _, p := range params(d) {
		a.m = append(a.m, make([]float64, len(p)))
		a.v = append(a.v, make([]float64, len(p)))
	}
	return a
}

// params lists the network's parameters as flat slices (aliases of W's and B's memory):
// W0, B0, W1, B1, …
func params(d *Dense) [][]float64 {
	var ps [][]float64
	for _, ly := range d.layers {
		ps = append(ps, ly.W.RawMatrix().Data, ly.B)
	}
	return ps
}

// slices lists g in the same order as params.
func (g *grads) slices() [][]float64 {
	var gs [][]float64
	for l := range g.W {
		gs = append(gs, g.W[l].RawMatrix().Data, g.B[l])
	}
	return gs
}

// step applies one update: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², m̂ = m/(1−β1ᵗ),
// v̂ = v/(1−β2ᵗ), θ ← θ − lr·m̂/(√v̂ + ε).
func (a *adam) step(d *Dense, g *grads) {
	a.t++
	d.packed.Store(nil) // the float32 copy of the weights is stale
	c1 := 1 - math.Pow(a.beta1, float64(a.t))
	c2 := 1 - math.Pow(a.beta2, float64(a.t))
	gs := g.slices()
	for k, p := range params(d) {
		m, v, gk := a.m[k], a.v[k], gs[k]
		for i := range p {
			m[i] = a.beta1*m[i] + (1-a.beta1)*gk[i]
			v[i] = a.beta2*v[i] + (1-a.beta2)*gk[i]*gk[i]
			p[i] -= a.lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + a.eps)
		}
	}
}
