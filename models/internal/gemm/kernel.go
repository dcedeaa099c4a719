package gemm

// kernel is a micro-kernel that computes up to mr rows of C for one packed panel of B.
type kernel struct {
	name string
	mr   int // rows of C per call at most
	// panel sets c[r*ldc+j] = act(Σ_p a[r*lda+p]·panel[p*16+j] + bias[j]) for r < rows ≤ mr,
	// j < cols ≤ 16, with act ReLU when relu is set. k ≥ 1; a and c hold every row used.
	panel func(rows, cols, k int, a []float32, lda int, panel, bias, c []float32, ldc int, relu bool)
}

// kernels lists the kernels this build and processor can run, fastest first; best is the
// first. The pure-Go kernel is always last.
var (
	kernels = []kernel{goKernel}
	best    = kernels[0]
)
