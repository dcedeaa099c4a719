package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// tol is the accepted error of a float32 result against the float64 reference, relative to
// |bias_j| + Σ_p |a_ip·b_pj| (the size of the terms summed, so that cancellation to a value
// near zero is not held against float32 rounding).
const tol = 1e-4

// sentinel marks elements of C that Apply must not write.
const sentinel = float32(-12345.5)

// randMatrix returns rows×cols values uniform in [-1, 1) with row stride ld, the padding set
// to sentinel.
func randMatrix(rng *rand.Rand, rows, cols, ld int) []float32 {
	m := make([]float32, max(0, (rows-1)*ld+cols))
	for i := range m {
		if i%ld < cols {
			m[i] = float32(2*rng.Float64() - 1)
		} else {
			m[i] = sentinel
		}
	}
	return m
}

// reference computes act(A·B + bias) in float64 and the size |bias_j| + Σ_p |a_ip·b_pj| of
// each element's terms.
func reference(m, n, k int, a []float32, lda int, b []float32, ldb int, bias []float32, act Act) (want, size []float64) {
	want, size = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var z, s float64
			if bias != nil {
				z, s = float64(bias[j]), math.Abs(float64(bias[j]))
			}
			for p := range k {
				t := float64(a[i*lda+p]) * float64(b[p*ldb+j])
				z += t
				s += math.Abs(t)
			}
			if act == ReLU && z < 0 {
				z = 0
			}
			want[i*n+j], size[i*n+j] = z, s
		}
	}
	return want, size
}

// check runs kernel kn on one random problem and compares it with the float64 reference,
// including that the padding of C (columns n … ldc-1) is untouched.
func check(t *testing.T, kn kernel, rng *rand.Rand, m, n, k, lda, ldb, ldc int, withBias bool, act Act) {
	t.Helper()
	a := randMatrix(rng, m, k, lda)
	b := randMatrix(rng, k, n, ldb)
	var bias []float32
	if withBias {
		bias = randMatrix(rng, 1, n, n)
	}
	c := make([]float32, m*ldc)
	for i := range c {
		c[i] = sentinel
	}
	Pack(k, n, b, ldb, bias).apply(kn, m, a, lda, act, c, ldc)
	want, size := reference(m, n, k, a, lda, b, ldb, bias, act)
	for i := range m {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= n {
				if got != sentinel {
					t.Fatalf("%s m=%d n=%d k=%d: c[%d][%d] = %v past column n was written", kn.name, m, n, k, i, j, got)
				}
				continue
			}
			w, s := want[i*n+j], size[i*n+j]
			if math.Abs(float64(got)-w) > tol*s || (s == 0 && got != 0) {
				t.Fatalf("%s m=%d n=%d k=%d act=%d: c[%d][%d] = %v, want %v (term size %v)", kn.name, m, n, k, act, i, j, got, w, s)
			}
		}
	}
}

// TestApplyMatchesFloat64 sweeps small shapes around every block size (m across the 6-, 4-
// and 14-row tiles and the AVX-512 kernel's 1…14-row even splits, n across the 16-column
// panels, the 32-column panel pairs and the 4-column Go tiles, k across the 4-step
// unrolling) with tight and padded strides, for every kernel.
func TestApplyMatchesFloat64(t *testing.T) {
	for _, kn := range kernels {
		t.Run(kn.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for m := 1; m <= 30; m++ {
				for _, n := range []int{1, 3, 4, 15, 16, 17, 31, 32, 33, 48, 69} {
					for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 17} {
						check(t, kn, rng, m, n, k, k, n, n, true, ReLU)
						check(t, kn, rng, m, n, k, k+3, n+5, n+2, m%2 == 0, Linear)
					}
				}
			}
		})
	}
}

// TestApplyEvenTiles checks how apply walks a kernel that takes two panels per call and
// splits rows evenly (as the AVX-512 kernel does) with the pure-Go kernel doing the work:
// the tiles it is given and the result.
func TestApplyEvenTiles(t *testing.T) {
	type call struct{ rows, cols int }
	var calls []call
	pairs := kernel{name: "go-pairs", mr: 14, np: 2, even: true,
		panel: func(rows, cols, k int, a []float32, lda int, panel, bias, c []float32, ldc int, relu bool) {
			calls = append(calls, call{rows, cols})
			for h := 0; h*PanelWidth < cols; h++ {
				goPanel(rows, min(PanelWidth, cols-h*PanelWidth), k, a, lda, panel[h*k*PanelWidth:], bias[h*PanelWidth:], c[h*PanelWidth:], ldc, relu)
			}
		}}
	rng := rand.New(rand.NewPCG(17, 18))
	for _, tc := range []struct {
		m, n, k int
		want    string
	}{
		{1, 10, 5, "{1 10}"},
		{15, 33, 3, "{8 32} {7 32} {8 1} {7 1}"},
		{64, 40, 9, "{13 32} {13 32} {13 32} {13 32} {12 32} {13 8} {13 8} {13 8} {13 8} {12 8}"},
		// l2Budget/(4·1000) = 65 rows, a multiple of 14 → L2 blocks of 56, 56, 56, 32.
		{200, 17, 1000, strings.Repeat("{14 17} ", 12) + "{11 17} {11 17} {10 17}"},
	} {
		calls = nil
		check(t, pairs, rng, tc.m, tc.n, tc.k, tc.k, tc.n, tc.n, true, ReLU)
		if got := fmt.Sprint(calls); got != "["+tc.want+"]" {
			t.Errorf("m=%d n=%d: calls (rows cols) %s, want %s", tc.m, tc.n, got, tc.want)
		}
	}
}

// TestApplyLayerShapes checks the 784→500→10 network's layer shapes at the batch sizes the
// batcher uses, plus a batch large enough to need several L2 row blocks.
func TestApplyLayerShapes(t *testing.T) {
	for _, kn := range kernels {
		t.Run(kn.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			for _, m := range []int{1, 16, 64, 91} {
				check(t, kn, rng, m, 500, 784, 784, 500, 500, true, ReLU)
				check(t, kn, rng, m, 10, 500, 500, 10, 10, true, Linear)
			}
			check(t, kn, rng, 200, 40, 1000, 1000, 40, 40, true, Linear) // 3 row blocks of 84 or 64
		})
	}
}

// TestApplyEmpty checks k = 0 (C = act(bias)) and m = 0 or n = 0 (nothing written).
func TestApplyEmpty(t *testing.T) {
	for _, kn := range kernels {
		w := Pack(0, 3, nil, 3, []float32{-1, 0.5, 2})
		c := []float32{9, 9, 9, 9, 9, 9, 9}
		w.apply(kn, 2, nil, 1, ReLU, c, 4)
		want := []float32{0, 0.5, 2, 9, 0, 0.5, 2}
		for i := range c {
			if c[i] != want[i] {
				t.Fatalf("%s k=0: c = %v, want %v", kn.name, c, want)
			}
		}
		Pack(2, 3, make([]float32, 6), 3, nil).apply(kn, 0, nil, 2, Linear, nil, 3)
		Pack(2, 0, nil, 1, nil).apply(kn, 2, make([]float32, 4), 2, Linear, nil, 1)
	}
}

// TestApplyKnownValues checks a hand-computed 2×3 product with bias and ReLU.
func TestApplyKnownValues(t *testing.T) {
	a := []float32{1, 2, 3, -1, 0, 1} // 2×3
	// 3×3 with ldb 4 (the fourth column is padding): rows [1 0 2], [1 -1 1], [1 0 0].
	b := []float32{1, 0, 2, 9, 1, -1, 1, 9, 1, 0, 0, 9}
	bias := []float32{0.5, -10, 0}
	// A·B row 0: [1+2+3, 0-2+0, 2+2+0] = [6, -2, 4]; + bias → [6.5, -12, 4] → ReLU [6.5, 0, 4].
	// A·B row 1: [-1+0+1, 0+0+0, -2+0+0] = [0, 0, -2]; + bias → [0.5, -10, -2] → [0.5, 0, 0].
	want := []float32{6.5, 0, 4, 0.5, 0, 0}
	for _, kn := range kernels {
		c := make([]float32, 6)
		Pack(3, 3, b, 4, bias).apply(kn, 2, a, 3, ReLU, c, 3)
		for i := range c {
			if c[i] != want[i] {
				t.Fatalf("%s: c = %v, want %v", kn.name, c, want)
			}
		}
	}
}

// TestReLUKeepsNaN checks that a NaN input gives NaN through ReLU, as models.ActReLU does,
// and that a negative sum gives 0.
func TestReLUKeepsNaN(t *testing.T) {
	for _, kn := range kernels {
		for _, n := range []int{5, 16} { // partial and full panel
			a := []float32{float32(math.NaN()), 1, 1, 1}
			b := make([]float32, 2*n)
			for j := range b {
				b[j] = -1
			}
			c := make([]float32, 2*n)
			Pack(2, n, b, n, nil).apply(kn, 2, a, 2, ReLU, c, n)
			for j := range n {
				if !math.IsNaN(float64(c[j])) || c[n+j] != 0 {
					t.Fatalf("%s n=%d: row 0 = %v (want NaN), row 1 = %v (want 0)", kn.name, n, c[:n], c[n:])
				}
			}
		}
	}
}

// TestDense32 checks that the one-call form equals Pack followed by Apply.
func TestDense32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m, n, k := 7, 21, 19
	a, b, bias := randMatrix(rng, m, k, k), randMatrix(rng, k, n, n), randMatrix(rng, 1, n, n)
	got, want := make([]float32, m*n), make([]float32, m*n)
	Dense32(m, n, k, a, k, b, n, bias, ReLU, got, n)
	Pack(k, n, b, n, bias).Apply(m, a, k, ReLU, want, n)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Dense32 c[%d] = %v, Apply gives %v", i, got[i], want[i])
		}
	}
	if kk, nn := Pack(k, n, b, n, bias).Dims(); kk != k || nn != n {
		t.Fatalf("Dims() = %d, %d, want %d, %d", kk, nn, k, n)
	}
}

// TestConcurrentApply shares one Weights between goroutines (run with -race).
func TestConcurrentApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, n, k := 9, 40, 30
	w := Pack(k, n, randMatrix(rng, k, n, n), n, randMatrix(rng, 1, n, n))
	a := randMatrix(rng, m, k, k)
	want := make([]float32, m*n)
	w.Apply(m, a, k, ReLU, want, n)
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			c := make([]float32, m*n)
			for range 50 {
				w.Apply(m, a, k, ReLU, c, n)
				for i := range c {
					if c[i] != want[i] {
						errs <- fmt.Sprintf("c[%d] = %v, want %v", i, c[i], want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestShapeErrorsPanic checks every documented panic.
func TestShapeErrorsPanic(t *testing.T) {
	w := Pack(3, 2, make([]float32, 6), 2, nil)
	cases := map[string]func(){
		"negative k":  func() { Pack(-1, 2, nil, 2, nil) },
		"ldb < n":     func() { Pack(3, 2, make([]float32, 6), 1, nil) },
		"short b":     func() { Pack(3, 2, make([]float32, 5), 2, nil) },
		"bias length": func() { Pack(3, 2, make([]float32, 6), 2, []float32{1}) },
		"negative m":  func() { w.Apply(-1, nil, 3, Linear, nil, 2) },
		"lda < k":     func() { w.Apply(1, make([]float32, 3), 2, Linear, make([]float32, 2), 2) },
		"ldc < n":     func() { w.Apply(1, make([]float32, 3), 3, Linear, make([]float32, 2), 1) },
		"short a":     func() { w.Apply(2, make([]float32, 5), 3, Linear, make([]float32, 4), 2) },
		"short c":     func() { w.Apply(2, make([]float32, 6), 3, Linear, make([]float32, 3), 2) },
		"unknown act": func() { w.Apply(1, make([]float32, 3), 3, Act(7), make([]float32, 2), 2) },
		"Dense32 short b": func() {
			Dense32(1, 2, 3, make([]float32, 3), 3, make([]float32, 5), 2, nil, Linear, make([]float32, 2), 2)
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}

// TestMLPMatchesGonum runs the 784→500 (ReLU) →10 network with float64 weights and inputs
// rounded to float32 and compares its outputs with gonum's float64 computation from the
// unrounded values (what models.Dense does today): every output within 1e-4 of the
// reference, relative to the largest output magnitude of the batch.
func TestMLPMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	uniform := func(n int, lo, hi float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = lo + (hi-lo)*rng.Float64()
		}
		return v
	}
	s1, s2 := math.Sqrt(6.0/mlpIn), math.Sqrt(6.0/mlpHidden) // He-uniform scale
	w1, b1 := uniform(mlpIn*mlpHidden, -s1, s1), uniform(mlpHidden, -0.1, 0.1)
	w2, b2 := uniform(mlpHidden*mlpOut, -s2, s2), uniform(mlpOut, -0.1, 0.1)
	l1 := Pack(mlpIn, mlpHidden, narrow(w1), mlpHidden, narrow(b1))
	l2 := Pack(mlpHidden, mlpOut, narrow(w2), mlpOut, narrow(b2))
	const batch = 37
	x := uniform(batch*mlpIn, 0, 1) // pixel intensities
	h64, y64 := mat.NewDense(batch, mlpHidden, nil), mat.NewDense(batch, mlpOut, nil)
	gonumLayer(mat.NewDense(batch, mlpIn, x), mat.NewDense(mlpIn, mlpHidden, w1), b1, true, h64)
	gonumLayer(h64, mat.NewDense(mlpHidden, mlpOut, w2), b2, false, y64)
	largest := 0.0
	for _, v := range y64.RawMatrix().Data {
		largest = math.Max(largest, math.Abs(v))
	}
	for _, kn := range kernels {
		h, y := make([]float32, batch*mlpHidden), make([]float32, batch*mlpOut)
		l1.apply(kn, batch, narrow(x), mlpIn, ReLU, h, mlpHidden)
		l2.apply(kn, batch, h, mlpHidden, Linear, y, mlpOut)
		worst := 0.0
		for i := range batch {
			for j := range mlpOut {
				worst = math.Max(worst, math.Abs(float64(y[i*mlpOut+j])-y64.At(i, j))/largest)
			}
		}
		t.Logf("%s: largest |y| %.3g, worst error relative to it %.2g", kn.name, largest, worst)
		if worst > tol || largest == 0 {
			t.Fatalf("%s: worst error %.3g of the largest output %.3g, want ≤ %g", kn.name, worst, largest, tol)
		}
	}
}

func narrow(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// TestApplyAllocatesNothing checks Apply's promise of no allocation, partial panels included.
func TestApplyAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	m, n, k := 11, 21, 13
	w := Pack(k, n, randMatrix(rng, k, n, n), n, nil)
	a, c := randMatrix(rng, m, k, k), make([]float32, m*n)
	for _, kn := range kernels {
		if allocs := testing.AllocsPerRun(20, func() { w.apply(kn, m, a, k, ReLU, c, n) }); allocs != 0 {
			t.Fatalf("%s: %v allocations per Apply, want 0", kn.name, allocs)
		}
	}
}
