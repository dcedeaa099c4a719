package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// The network of issue 6: 784 inputs → 500 ReLU → 10 linear outputs.
const (
	mlpIn, mlpHidden, mlpOut = 784, 500, 10
	// mlpFLOP counts one multiply and one add per weight for one sample.
	mlpFLOP = 2 * (mlpIn*mlpHidden + mlpHidden*mlpOut)
)

// BenchmarkMLP runs the 784→500→10 network on a batch with each kernel of this build and,
// as the baseline, gonum's float64 mat.Dense Mul plus bias and ReLU (what models.Dense does).
// Run it with -cpu 1: gonum's Dgemm spreads large products over GOMAXPROCS goroutines, and
// the figures compared are per core. It reports samples/s and GFLOP/s (2 FLOP per weight
// per sample); see measure.
func BenchmarkMLP(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	w1, b1 := randMatrix(rng, mlpIn, mlpHidden, mlpHidden), randMatrix(rng, 1, mlpHidden, mlpHidden)
	w2, b2 := randMatrix(rng, mlpHidden, mlpOut, mlpOut), randMatrix(rng, 1, mlpOut, mlpOut)
	l1, l2 := Pack(mlpIn, mlpHidden, w1, mlpHidden, b1), Pack(mlpHidden, mlpOut, w2, mlpOut, b2)
	g1, g2 := mat.NewDense(mlpIn, mlpHidden, widen(w1)), mat.NewDense(mlpHidden, mlpOut, widen(w2))
	gb1, gb2 := widen(b1), widen(b2)
	for _, batch := range []int{1, 16, 64, 256} {
		x := randMatrix(rng, batch, mlpIn, mlpIn)
		for _, kn := range kernels {
			b.Run(fmt.Sprintf("kernel=%s/batch=%d", kn.name, batch), func(b *testing.B) {
				h, y := make([]float32, batch*mlpHidden), make([]float32, batch*mlpOut)
				measure(b, batch, batch*mlpFLOP, func() {
					l1.apply(kn, batch, x, mlpIn, ReLU, h, mlpHidden)
					l2.apply(kn, batch, h, mlpHidden, Linear, y, mlpOut)
				})
			})
		}
		b.Run(fmt.Sprintf("kernel=gonum64/batch=%d", batch), func(b *testing.B) {
			gx := mat.NewDense(batch, mlpIn, widen(x))
			h, y := mat.NewDense(batch, mlpHidden, nil), mat.NewDense(batch, mlpOut, nil)
			measure(b, batch, batch*mlpFLOP, func() {
				gonumLayer(gx, g1, gb1, true, h)
				gonumLayer(h, g2, gb2, false, y)
			})
		})
	}
}

// gonumLayer writes dst = act(a·w + bias) as models.Dense's layers do.
func gonumLayer(a, w *mat.Dense, bias []float64, relu bool, dst *mat.Dense) {
	dst.Mul(a, w)
	raw := dst.RawMatrix()
	for i := range raw.Rows {
		row := raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
		for j := range row {
			row[j] += bias[j]
			if relu && row[j] < 0 {
				row[j] = 0
			}
		}
	}
}

func widen(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// BenchmarkKernel runs each micro-kernel alone on one or two 16-column panels (as many as
// the kernel takes) with its operands in cache (a rows×k block of A, k×16 panels of B): the
// ceiling BenchmarkMLP can approach.
func BenchmarkKernel(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	const k, maxRows, maxPanels = 256, 14, 2
	a, panels := randMatrix(rng, maxRows, k, k), randMatrix(rng, maxPanels*k, PanelWidth, PanelWidth)
	bias, c := make([]float32, maxPanels*PanelWidth), make([]float32, maxRows*maxPanels*PanelWidth)
	for _, kn := range kernels {
		cols := max(kn.np, 1) * PanelWidth
		for _, rows := range []int{1, 2, 4, 6, 8, 12, 14} {
			if rows > kn.mr {
				continue
			}
			b.Run(fmt.Sprintf("kernel=%s/rows=%d/cols=%d", kn.name, rows, cols), func(b *testing.B) {
				measure(b, rows, 2*rows*k*cols, func() {
					kn.panel(rows, cols, k, a, k, panels, bias, c, cols, false)
				})
			})
		}
	}
}

// measure runs run once per iteration, each handling the given number of samples (rows of
// A) and floating-point operations, and reports samples/s and GFLOP/s of wall-clock time
// and, where the OS gives the process's CPU time, samples/cpu-s and GFLOP/cpu-s: the rate
// per second of CPU time this process used, which other processes on a shared machine
// disturb far less (they still share caches and memory bandwidth). With -cpu 1 that is the
// rate per core.
func measure(b *testing.B, samples, flop int, run func()) {
	cpu0, ok := processCPU()
	for b.Loop() {
		run()
	}
	cpu1, _ := processCPU()
	n := float64(b.N)
	b.ReportMetric(n*float64(samples)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(n*float64(flop)/1e9/b.Elapsed().Seconds(), "GFLOP/s")
	if ok && cpu1 > cpu0 {
		b.ReportMetric(n*float64(samples)/(cpu1-cpu0).Seconds(), "samples/cpu-s")
		b.ReportMetric(n*float64(flop)/1e9/(cpu1-cpu0).Seconds(), "GFLOP/cpu-s")
	}
}
