package gemm

// kernel is a micro-kernel that computes up to mr rows of C for one packed panel of B.
type kernel struct {
	name string
	mr   int // rows of C per call at most
	np   int // panels of B per call at most (0 means 1)
	// even splits the rows of an L2 block into calls of near-equal size (64 rows with mr 14:
	// 13, 13, 13, 13, 12) instead of mr rows each and the rest last (14, 14, 14, 14, 8).
	even bool
	// panel sets c[r*ldc+j] = act(Σ_p a[r*lda+p]·panel[(j/16)·16k + 16p + j%16] + bias[j])
	// for r < rows ≤ mr, j < cols ≤ 16·np, with act ReLU when relu is set: panel holds the
	// ⌈cols/16⌉ consecutive packed panels and bias their 16·⌈cols/16⌉ values. k ≥ 1; a and
	// c hold every row used.
	panel func(rows, cols, k int, a []float32, lda int, panel, bias, c []float32, ldc int, relu bool)
}

// kernels lists the kernels this build and processor can run, fastest first; best is the
// first. The pure-Go kernel is always last.
var (
	kernels = []kernel{goKernel}
	best    = kernels[0]
)
