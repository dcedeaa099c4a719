package gemm

import "fmt"

// Act is an activation fused into the write of C.
type Act uint8

const (
	// Linear leaves z = A·B + bias as it is.
	Linear Act = iota
	// ReLU writes max(0, z); a NaN stays NaN.
	ReLU
)

// l2Budget is the size in bytes of the block of A rows kept in L2 while every panel of B
// passes over it (Goto & van de Geijn's mc×kc block): half of a 512 KiB L2.
const l2Budget = 256 << 10

// Apply computes C = act(A·B + bias) for the m×k row-major matrix A (row i at a[i*lda:],
// lda ≥ k) and writes the m×n result into c (row i at c[i*ldc:], ldc ≥ n); k and n are
// the dimensions of w. Columns of c past n are not touched. It panics if m is negative,
// lda or ldc is too small, a or c is too short, or act is unknown. It is single-threaded and
// allocates nothing.
func (w *Weights) Apply(m int, a []float32, lda int, act Act, c []float32, ldc int) {
	w.apply(best, m, a, lda, act, c, ldc)
}

// Dense32 computes C = act(A·B + bias) in one call: A is m×k (row i at a[i*lda:]), B is
// k×n (row p at b[p*ldb:]), bias has n elements or is nil, and C is m×n (row i at
// c[i*ldc:]). It packs B on every call, which costs about one pass over B; for weights
// used more than once, [Pack] them and call [Weights.Apply]. It panics on the shape errors
// listed for [Pack] and [Weights.Apply].
func Dense32(m, n, k int, a []float32, lda int, b []float32, ldb int, bias []float32, act Act, c []float32, ldc int) {
	Pack(k, n, b, ldb, bias).Apply(m, a, lda, act, c, ldc)
}

// apply is Apply with an explicit kernel, so that tests can run every kernel.
func (w *Weights) apply(kn kernel, m int, a []float32, lda int, act Act, c []float32, ldc int) {
	k, n := w.k, w.n
	if m < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d", m))
	}
	if lda < max(k, 1) || ldc < max(n, 1) {
		panic(fmt.Sprintf("gemm: lda %d < k %d or ldc %d < n %d", lda, k, ldc, n))
	}
	if act != Linear && act != ReLU {
		panic(fmt.Sprintf("gemm: unknown activation %d", act))
	}
	if m == 0 || n == 0 {
		return
	}
	if len(a) < span(m, k, lda) || len(c) < span(m, n, ldc) {
		panic(fmt.Sprintf("gemm: a has %d elements (need %d) or c has %d (need %d)", len(a), span(m, k, lda), len(c), span(m, n, ldc)))
	}
	relu := act == ReLU
	if k == 0 {
		for i := range m {
			row := c[i*ldc : i*ldc+n]
			copy(row, w.bias)
			if relu {
				reluRow(row)
			}
		}
		return
	}
	mc := max(kn.mr, l2Budget/(4*k)/kn.mr*kn.mr)
	panels := (n + PanelWidth - 1) / PanelWidth
	np := max(kn.np, 1)
	for i0 := 0; i0 < m; i0 += mc {
		i1 := min(m, i0+mc)
		for q := 0; q < panels; q += np {
			g := min(np, panels-q)
			panel, bias := w.panelRange(q, g)
			j0 := q * PanelWidth
			cols := min(g*PanelWidth, n-j0)
			for i := i0; i < i1; {
				rows := min(kn.mr, i1-i)
				if kn.even {
					tiles := (i1 - i + kn.mr - 1) / kn.mr
					rows = (i1 - i + tiles - 1) / tiles
				}
				kn.panel(rows, cols, k, a[i*lda:], lda, panel, bias, c[i*ldc+j0:], ldc, relu)
				i += rows
			}
		}
	}
}

// reluRow replaces the negative values of row by 0, keeping NaN.
func reluRow(row []float32) {
	for j, v := range row {
		if v < 0 {
			row[j] = 0
		}
	}
}

// span is the number of elements a rows×cols row-major matrix with row stride ld occupies.
func span(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}
