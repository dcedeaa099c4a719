package gemm

import (
	"time"

	"golang.org/x/sys/unix"
)

// processCPU returns the CPU time this process has used (all its threads, so gonum's worker
// goroutines count too), so that a benchmark on a shared machine can report work per
// CPU-second rather than per wall-clock second.
func processCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
