//go:build amd64 && !purego

#include "textflag.h"

// Micro-kernels C[r][0:16] = act(Σ_p A[r][p]·B[p][0:16] + bias[0:16]) over a packed
// k×16 panel of B (row p at 64p bytes), for 6, 4, 2 or 1 rows of A and C. Every kernel
// takes (k int, a *float32, lda int, b, bias, c *float32, ldc int, relu bool) with k ≥ 1
// and lda, ldc in elements, and uses AVX2 and FMA.
//
// Registers: CX counts k, SI walks row 0 of A (R9 walks row 3), R8 = lda bytes, DX walks
// B, BX = bias, DI = C row 0 (R11 = row 3), R10 = ldc bytes. Y0…Y11 accumulate, Y12/Y13
// hold one row of B, Y14/Y15 a broadcast element of A.

// LOADARGS loads the arguments shared by every kernel.
#define LOADARGS \
	MOVQ k+0(FP), CX; \
	MOVQ a+8(FP), SI; \
	MOVQ lda+16(FP), R8; \
	SHLQ $2, R8; \
	MOVQ b+24(FP), DX; \
	MOVQ bias+32(FP), BX; \
	MOVQ c+40(FP), DI; \
	MOVQ ldc+48(FP), R10; \
	SHLQ $2, R10

// ROW multiplies the B row in Y12/Y13 by the A element at addr into acc0/acc1, through tmp.
#define ROW(addr, tmp, acc0, acc1) \
	VBROADCASTSS addr, tmp; \
	VFMADD231PS  Y12, tmp, acc0; \
	VFMADD231PS  Y13, tmp, acc1

// LOADB loads row p of the panel, at byte offset off from DX, into Y12/Y13.
#define LOADB(off) \
	VMOVUPS off(DX), Y12; \
	VMOVUPS off+32(DX), Y13

// RELU sets acc = max(0, acc) with Y15 zero; NaN is kept (VMAXPS returns its second source,
// the accumulator, when either is NaN).
#define RELU(acc0, acc1) \
	VMAXPS acc0, Y15, acc0; \
	VMAXPS acc1, Y15, acc1

// STEP6 multiplies B row p (bytes boff past DX) by A column p (bytes aoff past the row
// pointers) into the six row accumulators.
#define STEP6(boff, aoff) \
	LOADB(boff); \
	ROW(aoff(SI), Y14, Y0, Y1); \
	ROW(aoff(SI)(R8*1), Y15, Y2, Y3); \
	ROW(aoff(SI)(R8*2), Y14, Y4, Y5); \
	ROW(aoff(R9), Y15, Y6, Y7); \
	ROW(aoff(R9)(R8*1), Y14, Y8, Y9); \
	ROW(aoff(R9)(R8*2), Y15, Y10, Y11)

// func sgemm6x16(k int, a *float32, lda int, b, bias, c *float32, ldc int, relu bool)
TEXT ·sgemm6x16(SB), NOSPLIT, $0-57
	LOADARGS
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9
	LEAQ (DI)(R10*2), R11
	ADDQ R10, R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	CMPQ CX, $4
	JB   tail6

loop6:
	STEP6(0, 0)
	STEP6(64, 4)
	STEP6(128, 8)
	STEP6(192, 12)
	ADDQ $256, DX
	ADDQ $16, SI
	ADDQ $16, R9
	SUBQ $4, CX
	CMPQ CX, $4
	JAE  loop6

tail6:
	TESTQ CX, CX
	JZ    done6

one6:
	STEP6(0, 0)
	ADDQ $64, DX
	ADDQ $4, SI
	ADDQ $4, R9
	DECQ CX
	JNZ  one6

done6:
	VADDPS (BX), Y0, Y0
	VADDPS 32(BX), Y1, Y1
	VADDPS (BX), Y2, Y2
	VADDPS 32(BX), Y3, Y3
	VADDPS (BX), Y4, Y4
	VADDPS 32(BX), Y5, Y5
	VADDPS (BX), Y6, Y6
	VADDPS 32(BX), Y7, Y7
	VADDPS (BX), Y8, Y8
	VADDPS 32(BX), Y9, Y9
	VADDPS (BX), Y10, Y10
	VADDPS 32(BX), Y11, Y11
	CMPB   relu+56(FP), $0
	JEQ    store6
	VXORPS Y15, Y15, Y15
	RELU(Y0, Y1)
	RELU(Y2, Y3)
	RELU(Y4, Y5)
	RELU(Y6, Y7)
	RELU(Y8, Y9)
	RELU(Y10, Y11)

store6:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, (DI)(R10*1)
	VMOVUPS Y3, 32(DI)(R10*1)
	VMOVUPS Y4, (DI)(R10*2)
	VMOVUPS Y5, 32(DI)(R10*2)
	VMOVUPS Y6, (R11)
	VMOVUPS Y7, 32(R11)
	VMOVUPS Y8, (R11)(R10*1)
	VMOVUPS Y9, 32(R11)(R10*1)
	VMOVUPS Y10, (R11)(R10*2)
	VMOVUPS Y11, 32(R11)(R10*2)
	VZEROUPPER
	RET

#define STEP4(boff, aoff) \
	LOADB(boff); \
	ROW(aoff(SI), Y14, Y0, Y1); \
	ROW(aoff(SI)(R8*1), Y15, Y2, Y3); \
	ROW(aoff(SI)(R8*2), Y14, Y4, Y5); \
	ROW(aoff(R9), Y15, Y6, Y7)

// func sgemm4x16(k int, a *float32, lda int, b, bias, c *float32, ldc int, relu bool)
TEXT ·sgemm4x16(SB), NOSPLIT, $0-57
	LOADARGS
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9
	LEAQ (DI)(R10*2), R11
	ADDQ R10, R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ CX, $4
	JB   tail4

loop4:
	STEP4(0, 0)
	STEP4(64, 4)
	STEP4(128, 8)
	STEP4(192, 12)
	ADDQ $256, DX
	ADDQ $16, SI
	ADDQ $16, R9
	SUBQ $4, CX
	CMPQ CX, $4
	JAE  loop4

tail4:
	TESTQ CX, CX
	JZ    done4

one4:
	STEP4(0, 0)
	ADDQ $64, DX
	ADDQ $4, SI
	ADDQ $4, R9
	DECQ CX
	JNZ  one4

done4:
	VADDPS (BX), Y0, Y0
	VADDPS 32(BX), Y1, Y1
	VADDPS (BX), Y2, Y2
	VADDPS 32(BX), Y3, Y3
	VADDPS (BX), Y4, Y4
	VADDPS 32(BX), Y5, Y5
	VADDPS (BX), Y6, Y6
	VADDPS 32(BX), Y7, Y7
	CMPB   relu+56(FP), $0
	JEQ    store4
	VXORPS Y15, Y15, Y15
	RELU(Y0, Y1)
	RELU(Y2, Y3)
	RELU(Y4, Y5)
	RELU(Y6, Y7)

store4:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, (DI)(R10*1)
	VMOVUPS Y3, 32(DI)(R10*1)
	VMOVUPS Y4, (DI)(R10*2)
	VMOVUPS Y5, 32(DI)(R10*2)
	VMOVUPS Y6, (R11)
	VMOVUPS Y7, 32(R11)
	VZEROUPPER
	RET

// The 2-row kernel sums even p into Y0…Y3 and odd p into Y4…Y7 (eight chains, not four).
#define STEP2(boff, aoff, acc0, acc1, acc2, acc3) \
	LOADB(boff); \
	ROW(aoff(SI), Y14, acc0, acc1); \
	ROW(aoff(SI)(R8*1), Y15, acc2, acc3)

// func sgemm2x16(k int, a *float32, lda int, b, bias, c *float32, ldc int, relu bool)
TEXT ·sgemm2x16(SB), NOSPLIT, $0-57
	LOADARGS
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ CX, $4
	JB   tail2

loop2:
	STEP2(0, 0, Y0, Y1, Y2, Y3)
	STEP2(64, 4, Y4, Y5, Y6, Y7)
	STEP2(128, 8, Y0, Y1, Y2, Y3)
	STEP2(192, 12, Y4, Y5, Y6, Y7)
	ADDQ $256, DX
	ADDQ $16, SI
	SUBQ $4, CX
	CMPQ CX, $4
	JAE  loop2

tail2:
	TESTQ CX, CX
	JZ    done2

one2:
	STEP2(0, 0, Y0, Y1, Y2, Y3)
	ADDQ $64, DX
	ADDQ $4, SI
	DECQ CX
	JNZ  one2

done2:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VADDPS (BX), Y0, Y0
	VADDPS 32(BX), Y1, Y1
	VADDPS (BX), Y2, Y2
	VADDPS 32(BX), Y3, Y3
	CMPB   relu+56(FP), $0
	JEQ    store2
	VXORPS Y15, Y15, Y15
	RELU(Y0, Y1)
	RELU(Y2, Y3)

store2:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, (DI)(R10*1)
	VMOVUPS Y3, 32(DI)(R10*1)
	VZEROUPPER
	RET

// The 1-row kernel sums p mod 4 = 0, 1, 2, 3 into Y0/Y1, Y2/Y3, Y4/Y5 and Y6/Y7.
#define STEP1(boff, aoff, acc0, acc1) \
	LOADB(boff); \
	ROW(aoff(SI), Y14, acc0, acc1)

// func sgemm1x16(k int, a *float32, lda int, b, bias, c *float32, ldc int, relu bool)
TEXT ·sgemm1x16(SB), NOSPLIT, $0-57
	LOADARGS
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ CX, $4
	JB   tail1

loop1:
	STEP1(0, 0, Y0, Y1)
	STEP1(64, 4, Y2, Y3)
	STEP1(128, 8, Y4, Y5)
	STEP1(192, 12, Y6, Y7)
	ADDQ $256, DX
	ADDQ $16, SI
	SUBQ $4, CX
	CMPQ CX, $4
	JAE  loop1

tail1:
	TESTQ CX, CX
	JZ    done1

one1:
	STEP1(0, 0, Y0, Y1)
	ADDQ $64, DX
	ADDQ $4, SI
	DECQ CX
	JNZ  one1

done1:
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	VADDPS Y6, Y4, Y4
	VADDPS Y7, Y5, Y5
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS (BX), Y0, Y0
	VADDPS 32(BX), Y1, Y1
	CMPB   relu+56(FP), $0
	JEQ    store1
	VXORPS Y15, Y15, Y15
	RELU(Y0, Y1)

store1:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VZEROUPPER
	RET
