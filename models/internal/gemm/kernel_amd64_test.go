//go:build amd64 && !purego

package gemm

import (
	"fmt"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestKernelChoice checks that the AVX-512 kernel is chosen exactly when the processor has
// AVX-512F, the AVX2 kernel when it has AVX2 and FMA but not AVX-512F, that both stay in
// kernels (so that every test and benchmark runs each kernel this processor can run), and
// that the pure-Go kernel is always last to fall back on.
func TestKernelChoice(t *testing.T) {
	var want []string
	if cpu.X86.HasAVX512F {
		want = append(want, "avx512")
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		want = append(want, "avx2")
	}
	want = append(want, "go")
	var got []string
	for _, kn := range kernels {
		got = append(got, kn.name)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || best.name != want[0] {
		t.Fatalf("kernels %v, best %q; want %v", got, best.name, want)
	}
}
