package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/pflag"
)

// benchProfileRate is the fraction of contended mutex events recorded (1 in
// benchProfileRate) and the block profile's sampling rate (one blocking event per this
// many ns blocked) while --mutexprofile or --blockprofile is set.
const benchProfileRate = 10

// benchProfiles are the pprof profiles `edgepipe bench` asks its worker to write (the
// same flags on both; bench passes absolute paths down): a CPU profile of the whole
// run, and at its end the heap (allocations since the start: go tool pprof
// -sample_index=alloc_space), mutex contention and blocking profiles. "" = not written.
type benchProfiles struct {
	cpu, mem, mutex, block string
}

// addFlags declares the profile flags on f.
func (p *benchProfiles) addFlags(f *pflag.FlagSet) {
	f.StringVar(&p.cpu, "cpuprofile", "", "write the pipeline process's CPU profile (pprof) to this file")
	f.StringVar(&p.mem, "memprofile", "", "write the pipeline process's heap profile (pprof; allocations since the start with -sample_index=alloc_space) to this file at the end")
	f.StringVar(&p.mutex, "mutexprofile", "", "write the pipeline process's mutex contention profile (pprof) to this file at the end")
	f.StringVar(&p.block, "blockprofile", "", "write the pipeline process's blocking profile (pprof: channel, select and lock waits) to this file at the end")
}

// args returns the flags that pass p on to the worker, with absolute paths (the
// worker runs in the same folder, but a path is clearer in its log).
func (p benchProfiles) args() ([]string, error) {
	var out []string
	for _, f := range []struct{ flag, path string }{{"--cpuprofile", p.cpu}, {"--memprofile", p.mem}, {"--mutexprofile", p.mutex}, {"--blockprofile", p.block}} {
		if f.path == "" {
			continue
		}
		abs, err := filepath.Abs(f.path)
		if err != nil {
			return nil, err
		}
		out = append(out, f.flag, abs)
	}
	return out, nil
}

// start starts the CPU profile and turns on mutex and block sampling as asked. The
// returned function stops them and writes the profiles; it returns the first error.
func (p benchProfiles) start() (func() error, error) {
	var cpu *os.File
	if p.cpu != "" {
		f, err := os.Create(p.cpu)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		cpu = f
	}
	if p.mutex != "" {
		runtime.SetMutexProfileFraction(benchProfileRate)
	}
	if p.block != "" {
		runtime.SetBlockProfileRate(benchProfileRate)
	}
	return func() error {
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		for _, w := range []struct{ name, path string }{{"allocs", p.mem}, {"mutex", p.mutex}, {"block", p.block}} {
			if w.path != "" {
				errs = append(errs, writeProfile(w.name, w.path))
			}
		}
		return errors.Join(errs...)
	}, nil
}

// writeProfile writes the runtime profile name (allocs, mutex, block) to path.
func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("%s profile: %w", name, err)
	}
	return f.Close()
}
