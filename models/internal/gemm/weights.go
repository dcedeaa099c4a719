package gemm

import "fmt"

// PanelWidth is the number of columns of B in one packed panel: two 8-float AVX2 vectors,
// one 16-float AVX-512 vector.
const PanelWidth = 16

// Weights is a layer's k×n weight matrix B and its 1×n bias, packed for [Weights.Apply].
//
// B is stored as ⌈n/16⌉ column panels; panel q holds columns 16q … 16q+15 as a k×16
// row-major block (row p at offset 16p), with the columns past n filled with zeros. This is
// the "packed B" of Goto & van de Geijn (2008): a micro-kernel reads one panel with unit
// stride. A Weights is immutable and safe for concurrent use.
type Weights struct {
	k, n   int
	panels []float32 // ⌈n/16⌉ panels of k×16
	bias   []float32 // ⌈n/16⌉×16, zero past n
}

// Pack copies the k×n row-major matrix b (row p at b[p*ldb:], ldb ≥ n) and the bias (length
// n, or nil for none) into packed panels. It panics if k or n is negative, ldb < max(n, 1),
// b is shorter than (k-1)·ldb+n, or bias is non-nil with a length other than n.
func Pack(k, n int, b []float32, ldb int, bias []float32) *Weights {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("gemm: negative dimension k=%d n=%d", k, n))
	}
	if ldb < max(n, 1) {
		panic(fmt.Sprintf("gemm: ldb %d < n %d", ldb, n))
	}
	if len(b) < span(k, n, ldb) {
		panic(fmt.Sprintf("gemm: b has %d elements, a %d×%d matrix with stride %d needs %d", len(b), k, n, ldb, span(k, n, ldb)))
	}
	if bias != nil && len(bias) != n {
		panic(fmt.Sprintf("gemm: bias has %d elements, want %d", len(bias), n))
	}
	np := (n + PanelWidth - 1) / PanelWidth
	w := &Weights{k: k, n: n, panels: make([]float32, np*k*PanelWidth), bias: make([]float32, np*PanelWidth)}
	for q := range np {
		j0 := q * PanelWidth
		cols := min(PanelWidth, n-j0)
		panel := w.panels[q*k*PanelWidth : (q+1)*k*PanelWidth]
		for p := range k {
			copy(panel[p*PanelWidth:p*PanelWidth+cols], b[p*ldb+j0:p*ldb+j0+cols])
		}
	}
	copy(w.bias, bias)
	return w
}

// Dims returns the shape of B: k inputs (rows) × n outputs (columns).
func (w *Weights) Dims() (k, n int) { return w.k, w.n }

// panelRange returns the g consecutive packed k×16 blocks of columns 16q … 16(q+g)-1 and
// their 16g bias values.
func (w *Weights) panelRange(q, g int) (panels, bias []float32) {
	size := w.k * PanelWidth
	return w.panels[q*size : (q+g)*size : (q+g)*size], w.bias[q*PanelWidth : (q+g)*PanelWidth : (q+g)*PanelWidth]
}
