//go:build !amd64 || purego

package gemm

import "testing"

// TestKernelChoice checks that builds without the assembly use only the pure-Go kernel.
func TestKernelChoice(t *testing.T) {
	if best.name != "go" || len(kernels) != 1 {
		t.Fatalf("best kernel %q of %d, want go alone", best.name, len(kernels))
	}
}
