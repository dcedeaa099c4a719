//go:build ignore

// gen_avx512 writes kernel_avx512_amd64.s and kernel_avx512_amd64.go: the AVX-512
// micro-kernels for every row count 1 … avx512MR and one or two 16-column panels, and the Go
// switch that calls them. Run it with go generate (see kernel_amd64.go).
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
)

// mr is the most rows of C per kernel call: 2·mr accumulators of the two-panel kernel,
// plus two rows of B and two broadcasts of A, fill the 32 Z registers at mr = 14.
const mr = 14

func main() {
	var s bytes.Buffer
	s.WriteString(asmHeader)
	for w := 1; w <= 2; w++ {
		for r := 1; r <= mr; r++ {
			kernelAsm(&s, r, w)
		}
	}
	if err := os.WriteFile("kernel_avx512_amd64.s", s.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}

	var g bytes.Buffer
	fmt.Fprintf(&g, goHeader, mr)
	for w := 1; w <= 2; w++ {
		for r := 1; r <= mr; r++ {
			fmt.Fprintf(&g, "//go:noescape\nfunc %s(k int, a *float32, lda int, b *float32, ldp int, bias, c *float32, ldc int, mask0, mask1 uint16, relu bool)\n\n", name(r, w))
		}
	}
	g.WriteString("// avx512Call runs the kernel of rows×16w (1 ≤ rows ≤ avx512MR, w = 1 or 2); see sgemm512.\n")
	g.WriteString("func avx512Call(rows, w, k int, a *float32, lda int, b *float32, ldp int, bias, c *float32, ldc int, mask0, mask1 uint16, relu bool) {\n")
	g.WriteString("\tswitch 16*w + rows {\n")
	for w := 1; w <= 2; w++ {
		for r := 1; r <= mr; r++ {
			fmt.Fprintf(&g, "\tcase %d:\n\t\t%s(k, a, lda, b, ldp, bias, c, ldc, mask0, mask1, relu)\n", 16*w+r, name(r, w))
		}
	}
	g.WriteString("\tdefault:\n\t\tpanic(\"gemm: no AVX-512 kernel for this tile\")\n\t}\n}\n")
	src, err := format.Source(g.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("kernel_avx512_amd64.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}

func name(r, w int) string { return fmt.Sprintf("sgemm512x%dx%d", r, 16*w) }

// splits is the number of accumulator sets k is spread over (p mod splits): enough for at
// least 8 independent FMA chains (4-cycle latency, two FMA pipes), at most 4 (the unroll).
func splits(r, w int) int {
	s := 1
	for r*w*s < 8 && s < 4 {
		s *= 2
	}
	return s
}

// rowAddr returns the operand of row r of A (or C) at byte offset off: rows are reached
// from three bases (rows 0–4, 5–9, 10–14) as base, base+ld, base+2ld, base+3ld (ld3 holds
// 3ld) and base+4ld.
func rowAddr(off, r int, bases [3]string, ld, ld3 string) string {
	base := bases[r/5]
	o := ""
	if off != 0 {
		o = fmt.Sprint(off)
	}
	switch r % 5 {
	case 0:
		return fmt.Sprintf("%s(%s)", o, base)
	case 1:
		return fmt.Sprintf("%s(%s)(%s*1)", o, base, ld)
	case 2:
		return fmt.Sprintf("%s(%s)(%s*2)", o, base, ld)
	case 3:
		return fmt.Sprintf("%s(%s)(%s*1)", o, base, ld3)
	default:
		return fmt.Sprintf("%s(%s)(%s*4)", o, base, ld)
	}
}

func kernelAsm(s *bytes.Buffer, r, w int) {
	sp := splits(r, w)
	if r*w*sp > 28 {
		log.Fatalf("%d×%d: %d accumulators", r, 16*w, r*w*sp)
	}
	acc := func(set, row, half int) string { return fmt.Sprintf("Z%d", (set*r+row)*w+half) }
	p := func(format string, args ...any) { fmt.Fprintf(s, "\t"+format+"\n", args...) }
	n := name(r, w)
	aBases := [3]string{"SI", "R12", "R13"}
	cBases := [3]string{"DI", "R12", "R13"}
	nb := (r + 4) / 5 // bases in use

	fmt.Fprintf(s, "\n// func %s(k int, a *float32, lda int, b *float32, ldp int, bias, c *float32, ldc int, mask0, mask1 uint16, relu bool)\n", n)
	fmt.Fprintf(s, "// %d row(s) × %d columns; p mod %d goes to accumulator set p mod %d.\n", r, 16*w, sp, sp)
	fmt.Fprintf(s, "TEXT ·%s(SB), NOSPLIT, $0-69\n", n)
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ lda+16(FP), R8")
	p("SHLQ $2, R8")
	p("LEAQ (R8)(R8*2), R9")
	p("MOVQ b+24(FP), DX")
	if w == 2 {
		p("MOVQ ldp+32(FP), AX")
		p("SHLQ $2, AX")
	}
	if nb > 1 {
		p("LEAQ (SI)(R8*4), R12")
		p("ADDQ R8, R12")
	}
	if nb > 2 {
		p("LEAQ (R12)(R8*4), R13")
		p("ADDQ R8, R13")
	}
	for i := 0; i < r*w*sp; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	p("CMPQ CX, $4")
	p("JB   tail%s", n)
	fmt.Fprintf(s, "\nloop%s:\n", n)
	step := func(j, set int) {
		p("VMOVUPS %d(DX), Z30", 64*j)
		if w == 2 {
			p("VMOVUPS %d(DX)(AX*1), Z31", 64*j)
		}
		for row := range r {
			tmp := 28 + row%2
			p("VBROADCASTSS %s, Z%d", rowAddr(4*j, row, aBases, "R8", "R9"), tmp)
			p("VFMADD231PS Z30, Z%d, %s", tmp, acc(set, row, 0))
			if w == 2 {
				p("VFMADD231PS Z31, Z%d, %s", tmp, acc(set, row, 1))
			}
		}
	}
	advance := func(bBytes, aBytes int) {
		p("ADDQ $%d, DX", bBytes)
		for i := range nb {
			p("ADDQ $%d, %s", aBytes, aBases[i])
		}
	}
	for j := range 4 {
		step(j, j%sp)
	}
	advance(256, 16)
	p("SUBQ $4, CX")
	p("CMPQ CX, $4")
	p("JAE  loop%s", n)
	fmt.Fprintf(s, "\ntail%s:\n", n)
	p("TESTQ CX, CX")
	p("JZ    done%s", n)
	fmt.Fprintf(s, "\none%s:\n", n)
	step(0, 0)
	advance(64, 4)
	p("DECQ CX")
	p("JNZ  one%s", n)
	fmt.Fprintf(s, "\ndone%s:\n", n)
	for set := 1; set < sp; set++ {
		for row := range r {
			for h := range w {
				p("VADDPS %s, %s, %s", acc(set, row, h), acc(0, row, h), acc(0, row, h))
			}
		}
	}
	p("MOVQ bias+40(FP), BX")
	for row := range r {
		for h := range w {
			p("VADDPS %d(BX), %s, %s", 64*h, acc(0, row, h), acc(0, row, h))
		}
	}
	p("CMPB relu+68(FP), $0")
	p("JEQ  store%s", n)
	p("VPXORD Z28, Z28, Z28")
	for row := range r {
		for h := range w {
			p("VMAXPS %s, Z28, %s", acc(0, row, h), acc(0, row, h))
		}
	}
	fmt.Fprintf(s, "\nstore%s:\n", n)
	p("MOVQ c+48(FP), DI")
	p("MOVQ ldc+56(FP), R10")
	p("SHLQ $2, R10")
	p("LEAQ (R10)(R10*2), R11")
	if nb > 1 {
		p("LEAQ (DI)(R10*4), R12")
		p("ADDQ R10, R12")
	}
	if nb > 2 {
		p("LEAQ (R12)(R10*4), R13")
		p("ADDQ R10, R13")
	}
	p("KMOVW mask0+64(FP), K1")
	if w == 2 {
		p("KMOVW mask1+66(FP), K2")
	}
	for row := range r {
		for h := range w {
			p("VMOVUPS %s, K%d, %s", acc(0, row, h), h+1, rowAddr(64*h, row, cBases, "R10", "R11"))
		}
	}
	p("VZEROUPPER")
	p("RET")
}

const asmHeader = `// Code generated by gen_avx512.go; DO NOT EDIT.

//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 micro-kernels C[r][j] = act(Σ_p A[r][p]·B[p][j] + bias[j]) for r < rows and
// j < 16w over w = 1 or 2 packed k×16 panels of B (row p of panel h at 4·(h·ldp + 16p)
// bytes past b), stores masked to the columns set in mask0 (panel 0) and mask1 (panel 1). Every kernel takes (k int, a *float32, lda int, b *float32, ldp int, bias,
// c *float32, ldc int, mask0, mask1 uint16, relu bool) with k ≥ 1 and lda, ldp, ldc in elements, and
// uses AVX-512F.
//
// Registers: CX counts k; SI walks row 0 of A, R12 and R13 rows 5 and 10; R8 = lda bytes,
// R9 = 3·lda; DX walks panel 0 of B, AX = ldp bytes reaches panel 1. Z0…Z27 accumulate,
// Z30/Z31 hold one row of each panel, Z28/Z29 broadcast elements of A. Bias and C are
// addressed after the loop (BX; DI, R12, R13 with R10 = ldc bytes, R11 = 3·ldc); K1/K2 mask
// the stores. ReLU is VMAXPS with zero as first source, which returns the accumulator when
// it is NaN.
`

const goHeader = `// Code generated by gen_avx512.go; DO NOT EDIT.

//go:build amd64 && !purego

package gemm

// avx512MR is the most rows of C one AVX-512 kernel call computes.
const avx512MR = %d

// The AVX-512 kernels sgemm512x{rows}x{16w} of kernel_avx512_amd64.s each compute
// c[r*ldc+j] = act(Σ_p a[r*lda+p]·b[h*ldp+16p+j%%16] + bias[j]) for r < rows, j < 16w, h =
// j/16, writing only the columns j whose bit j%%16 is set in mask0 (h = 0) or mask1 (h = 1); act is ReLU when relu is set,
// k ≥ 1, and lda, ldp and ldc count float32 elements.

`
