package gemm

// goKernel is the portable pure-Go micro-kernel: 2×4 tiles of C in scalar registers (the
// compiler fuses the multiply-adds into FMA on arm64), so each value loaded from B is used
// twice and each value from A four times. It walks a 16-column panel as four 4-column
// strips, two rows of A at a time; the last row of an odd row count goes through dot1x4.
var goKernel = kernel{name: "go", mr: 4, panel: goPanel}

func goPanel(rows, cols, k int, a []float32, lda int, panel, bias, c []float32, ldc int, relu bool) {
	for j := 0; j < cols; j += 4 {
		b := panel[j:]
		n := min(4, cols-j)
		r := 0
		for ; r+1 < rows; r += 2 {
			c00, c01, c02, c03, c10, c11, c12, c13 := dot2x4(a[r*lda:r*lda+k], a[(r+1)*lda:(r+1)*lda+k], b)
			store(c[r*ldc+j:], n, bias[j:], relu, c00, c01, c02, c03)
			store(c[(r+1)*ldc+j:], n, bias[j:], relu, c10, c11, c12, c13)
		}
		if r < rows {
			v0, v1, v2, v3 := dot1x4(a[r*lda:r*lda+k], b)
			store(c[r*ldc+j:], n, bias[j:], relu, v0, v1, v2, v3)
		}
	}
}

// dot2x4 returns the 2×4 block Σ_p r_i[p]·b[16p+j] (i < 2, j < 4) row by row, two steps
// of p per iteration to halve the loop overhead. Eight accumulators, four B values and two
// A values nearly fit the 15 scalar floating-point registers Go's amd64 register allocator
// has; a 4×4 tile spills heavily and runs slower.
func dot2x4(r0, r1, b []float32) (c00, c01, c02, c03, c10, c11, c12, c13 float32) {
	r1 = r1[:len(r0)]
	p := 0
	for ; p+1 < len(r0); p += 2 {
		bp := b[p*PanelWidth : p*PanelWidth+PanelWidth+4 : p*PanelWidth+PanelWidth+4]
		x, y := r0[p], r1[p]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		c10 += y * b0
		c11 += y * b1
		c12 += y * b2
		c13 += y * b3
		x, y = r0[p+1], r1[p+1]
		b0, b1, b2, b3 = bp[PanelWidth], bp[PanelWidth+1], bp[PanelWidth+2], bp[PanelWidth+3]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		c10 += y * b0
		c11 += y * b1
		c12 += y * b2
		c13 += y * b3
	}
	if p < len(r0) {
		bp := b[p*PanelWidth : p*PanelWidth+4 : p*PanelWidth+4]
		x, y := r0[p], r1[p]
		c00 += x * bp[0]
		c01 += x * bp[1]
		c02 += x * bp[2]
		c03 += x * bp[3]
		c10 += y * bp[0]
		c11 += y * bp[1]
		c12 += y * bp[2]
		c13 += y * bp[3]
	}
	return
}

// dot1x4 returns Σ_p r[p]·b[16p+j] for j < 4, with the even and odd p summed apart to
// halve the dependency chains.
func dot1x4(r, b []float32) (c0, c1, c2, c3 float32) {
	var d0, d1, d2, d3 float32
	p := 0
	for ; p+1 < len(r); p += 2 {
		bp := b[p*PanelWidth : p*PanelWidth+PanelWidth+4 : p*PanelWidth+PanelWidth+4]
		x, y := r[p], r[p+1]
		c0 += x * bp[0]
		c1 += x * bp[1]
		c2 += x * bp[2]
		c3 += x * bp[3]
		d0 += y * bp[PanelWidth]
		d1 += y * bp[PanelWidth+1]
		d2 += y * bp[PanelWidth+2]
		d3 += y * bp[PanelWidth+3]
	}
	if p < len(r) {
		bp := b[p*PanelWidth : p*PanelWidth+4 : p*PanelWidth+4]
		x := r[p]
		c0 += x * bp[0]
		c1 += x * bp[1]
		c2 += x * bp[2]
		c3 += x * bp[3]
	}
	return c0 + d0, c1 + d1, c2 + d2, c3 + d3
}

// store writes the first n ≤ 4 of v0…v3 plus bias into c, through ReLU when relu is set.
func store(c []float32, n int, bias []float32, relu bool, v0, v1, v2, v3 float32) {
	v := [4]float32{v0 + bias[0], v1 + bias[1], v2 + bias[2], v3 + bias[3]}
	if relu {
		reluRow(v[:])
	}
	copy(c[:n], v[:n])
}
