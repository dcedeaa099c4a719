//go:build amd64 && !purego

package gemm

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// TestKernelChoice checks that the assembly kernel is chosen exactly when the processor
// has AVX2 and FMA, and that the pure-Go kernel is always available to fall back on.
func TestKernelChoice(t *testing.T) {
	want := "go"
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		want = "avx2"
	}
	if best.name != want || kernels[len(kernels)-1].name != "go" {
		t.Fatalf("best kernel %q of %d, want %q with go last", best.name, len(kernels), want)
	}
}
