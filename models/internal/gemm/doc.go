// Package gemm is a float32 inference kernel for dense (fully connected) layers:
//
//	C (m×n) = act(A (m×k) · B (k×n) + bias (1×n))
//
// with every matrix row-major: A is a batch of m samples of k inputs, B the layer's weights
// (inputs × outputs), bias is added to every row, and act is [Linear] or [ReLU] (other
// activations are applied by the caller on C). Pack the weights once with [Pack] and call
// [Weights.Apply] per batch; [Dense32] does both in one call.
//
// # Method
//
// The blocking follows Goto & van de Geijn, "Anatomy of high-performance matrix
// multiplication", ACM TOMS 34(3), 2008, as refined in BLIS (Van Zee & van de Geijn, "BLIS:
// A framework for rapidly instantiating BLAS functionality", ACM TOMS 41(3), 2015). B is
// packed into column panels of [PanelWidth] (16) columns, each a contiguous k×16 block,
// with bias and the columns past n padded with zeros. A register-blocked micro-kernel holds
// an mr×16 block of C in registers while it streams one panel of B and mr rows of A over
// the whole of k, then adds the bias, applies ReLU and stores the block. A is read in place
// (not packed): rows are taken in blocks of about 256 KiB so that a block stays in L2 while
// every panel of B passes over it.
//
// # Kernels
//
// On amd64 with AVX-512F, checked at run time with golang.org/x/sys/cpu, the micro-kernels
// are generated Go assembly (kernel_avx512_amd64.s, from gen_avx512.go): up to 14 rows ×
// 32 columns of C (two panels; one panel row is one ZMM register) in 28 ZMM accumulators,
// one kernel per row count 1…14 and per one or two panels, so that a block of rows is
// split into near-equal tiles; partial panels are written through store masks, and the
// kernels with few rows split k over several accumulators to cover the FMA latency. On
// amd64 with AVX2 and FMA but not AVX-512F they are Go assembly (kernel_amd64.s): 6×16
// blocks of C in twelve YMM registers, BLIS's shape for Haswell-class cores, with 4×16,
// 2×16 and 1×16 kernels for the last rows; the narrow ones split k over several
// accumulators to cover the FMA latency. Everywhere else — arm64, arm, other architectures, amd64 without AVX2/FMA, and
// any build with the purego tag — a pure-Go kernel of 2×4 scalar register tiles runs
// instead (on arm64 the compiler fuses its multiply-adds into FMA). The two give the same
// results up to float32 rounding: they sum in different orders.
//
// # Concurrency
//
// Every call runs on the calling goroutine only, and [Weights.Apply] allocates nothing;
// parallelism across batches is the caller's job (edgepipe's batcher runs one batch per
// worker). A [Weights] is read-only after [Pack] and may be shared by any number of
// goroutines.
package gemm
