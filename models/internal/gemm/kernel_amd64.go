//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// avx2Kernel is the Go assembly micro-kernel of kernel_amd64.s: 6×16 tiles of C in twelve
// YMM registers, eight-wide FMA (Goto & van de Geijn 2008; the 6×16 shape is BLIS's choice
// for Haswell-class cores, twelve accumulators covering the FMA latency of two pipes).
var avx2Kernel = kernel{name: "avx2", mr: 6, panel: avx2Panel}

// avx512Kernel is the generated Go assembly of kernel_avx512_amd64.s (gen_avx512.go): up to
// 14 rows × 32 columns of C (two packed panels, one Z register per panel row) in 28 ZMM
// accumulators, sixteen-wide FMA. Each row of B loaded is used by up to 14 rows of A, twice
// the reuse of the 6×16 AVX2 tile, which keeps the streaming of B from L2 below the FMA
// rate. There is one kernel per row count, so a block of rows is split into near-equal
// tiles (64 rows: 13, 13, 13, 13, 12) rather than leaving a short last tile; partial
// panels are written through store masks.
var avx512Kernel = kernel{name: "avx512", mr: avx512MR, np: 2, even: true, panel: avx512Panel}

//go:generate go run gen_avx512.go

func init() {
	// cpu.X86.HasAVX2 is only set when the OS saves the YMM registers (XGETBV), and
	// HasAVX512F only when it saves the ZMM and opmask registers too.
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kernels = append([]kernel{avx2Kernel}, kernels...)
	}
	if cpu.X86.HasAVX512F {
		kernels = append([]kernel{avx512Kernel}, kernels...)
	}
	best = kernels[0]
}

func avx512Panel(rows, cols, k int, a []float32, lda int, panel, bias, c []float32, ldc int, relu bool) {
	w := 1
	if cols > PanelWidth {
		w = 2
	}
	_ = panel[w*k*PanelWidth-1] // the kernel reads w whole panels
	_ = bias[w*PanelWidth-1]
	_ = a[(rows-1)*lda+k-1]
	_ = c[(rows-1)*ldc+cols-1]
	mask := uint32(uint64(1)<<cols - 1)
	avx512Call(rows, w, k, &a[0], lda, &panel[0], k*PanelWidth, &bias[0], &c[0], ldc, uint16(mask), uint16(mask>>16), relu)
}

// The assembly kernels each compute c[r*ldc+j] = act(Σ_p a[r*lda+p]·b[16p+j] + bias[j])
// for the rows r of their name and j < 16, with act ReLU when relu is set; k ≥ 1, and lda
// and ldc count float32 elements.

//go:noescape
func sgemm6x16(k int, a *float32, lda int, b, bias, c *float32, ldc int, relu bool)

//go:noescape
func sgemm4x16(k int, a *float32, lda int, b, bias, c *float32, ldc int, relu bool)

//go:noescape
func sgemm2x16(k int, a *float32, lda int, b, bias, c *float32, ldc int, relu bool)

//go:noescape
func sgemm1x16(k int, a *float32, lda int, b, bias, c *float32, ldc int, relu bool)

func avx2Panel(rows, cols, k int, a []float32, lda int, panel, bias, c []float32, ldc int, relu bool) {
	// A partial panel (cols < 16) is written to a 16-wide tile first, then copied.
	var tile [6 * PanelWidth]float32
	dst, ldd := c, ldc
	if cols < PanelWidth {
		dst, ldd = tile[:], PanelWidth
	}
	pa, pb, pbias := &a[0], &panel[0], &bias[0]
	switch rows {
	case 6:
		sgemm6x16(k, pa, lda, pb, pbias, &dst[0], ldd, relu)
	case 5:
		sgemm4x16(k, pa, lda, pb, pbias, &dst[0], ldd, relu)
		sgemm1x16(k, &a[4*lda], lda, pb, pbias, &dst[4*ldd], ldd, relu)
	case 4:
		sgemm4x16(k, pa, lda, pb, pbias, &dst[0], ldd, relu)
	case 3:
		sgemm2x16(k, pa, lda, pb, pbias, &dst[0], ldd, relu)
		sgemm1x16(k, &a[2*lda], lda, pb, pbias, &dst[2*ldd], ldd, relu)
	case 2:
		sgemm2x16(k, pa, lda, pb, pbias, &dst[0], ldd, relu)
	case 1:
		sgemm1x16(k, pa, lda, pb, pbias, &dst[0], ldd, relu)
	}
	if cols < PanelWidth {
		for r := range rows {
			copy(c[r*ldc:r*ldc+cols], tile[r*PanelWidth:])
		}
	}
}
