package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// benchChild is the bench's side of its worker process (bench_worker.go): it starts it,
// reads its messages (bench_wire.go), counts what it committed, hands each stored
// reading's commit time to the latencies, and asks it for snapshots.
type benchChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lat   *latencies
	// from is the start of the measured window (unix ns): commits from then on count
	// in measured and lastCommit.
	from atomic.Int64
	// stored and dead are the readings the worker newly stored and dead-lettered;
	// duplicates the redelivered ones it found already stored; summaries the summaries
	// it committed.
	stored, dead, duplicates, summaries atomic.Int64
	// measured is stored + dead from from on; lastCommit the time of the last such
	// commit (unix ns).
	measured, lastCommit atomic.Int64

	ready  chan struct{}
	snaps  chan benchSnapshot
	exited chan struct{} // closed when the worker's stdout has ended
	err    error         // why the messages stopped (nil at a clean end), set before exited closes
	snapMu sync.Mutex    // one snapshot request at a time
}

// startBenchChild starts argv (the worker command) with env, its stderr to logs.
func startBenchChild(argv, env []string, logs io.Writer, lat *latencies) (*benchChild, error) {
	c := &benchChild{lat: lat, ready: make(chan struct{}), snaps: make(chan benchSnapshot, 1), exited: make(chan struct{})}
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Env = env
	c.cmd.Stderr = logs
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench worker: %w", err)
	}
	go c.read(stdout)
	return c, nil
}

// read parses the worker's messages until its stdout ends.
func (c *benchChild) read(r io.Reader) {
	defer close(c.exited)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var at time.Time
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		var err error
		switch kind {
		case "r":
			ts, device, _ := strings.Cut(rest, " ")
			var ns int64
			if ns, err = strconv.ParseInt(ts, 10, 64); err == nil {
				c.stored.Add(1)
				c.lat.commit(device, time.Unix(0, ns).UTC(), at)
				c.count(at, 1)
			}
		case "c":
			err = c.commit(rest, &at)
		case "s":
			var n int64
			if n, err = strconv.ParseInt(rest, 10, 64); err == nil {
				c.summaries.Add(n)
			}
		case "m":
			var s benchSnapshot
			if s, err = parseBenchSnapshot(strings.Fields(rest)); err == nil {
				c.snaps <- s
			}
		case "ready":
			close(c.ready)
		default:
			err = errors.New("unknown message")
		}
		if err != nil {
			c.err = fmt.Errorf("bench worker: message %q: %v", sc.Text(), err)
			io.Copy(io.Discard, r) // let the worker finish; the bench stops it
			return
		}
	}
	c.err = sc.Err()
}

// commit parses a c message's fields and sets *at to its commit time.
func (c *benchChild) commit(rest string, at *time.Time) error {
	f := strings.Fields(rest)
	if len(f) != 3 {
		return errors.New("want time, duplicates and dead")
	}
	var v [3]int64
	for i := range v {
		var err error
		if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return err
		}
	}
	*at = time.Unix(0, v[0])
	c.duplicates.Add(v[1])
	c.dead.Add(v[2])
	c.count(*at, v[2])
	return nil
}

// count adds n readings committed at at to the measured window when at is in it.
func (c *benchChild) count(at time.Time, n int64) {
	if ns := at.UnixNano(); n > 0 && ns >= c.from.Load() {
		c.measured.Add(n)
		c.lastCommit.Store(ns)
	}
}

// finished is how many distinct readings the worker has committed (stored or
// dead-lettered).
func (c *benchChild) finished() int64 { return c.stored.Load() + c.dead.Load() }

// snapshot asks the worker for a snapshot and waits up to timeout for it.
func (c *benchChild) snapshot(timeout time.Duration) (benchSnapshot, error) {
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	select {
	case <-c.snaps: // the late answer to a request that timed out
	default:
	}
	if _, err := io.WriteString(c.stdin, "m\n"); err != nil {
		return benchSnapshot{}, fmt.Errorf("bench worker: %w", err)
	}
	select {
	case s := <-c.snaps:
		return s, nil
	case <-c.exited:
		return benchSnapshot{}, c.exitErr()
	case <-time.After(timeout):
		return benchSnapshot{}, fmt.Errorf("bench worker: no snapshot within %s", timeout)
	}
}

// exitErr says why the worker's messages ended early.
func (c *benchChild) exitErr() error {
	if c.err != nil {
		return c.err
	}
	return errors.New("bench worker exited early (its log above says why)")
}

// stop closes the worker's stdin, so that it drains and exits, waits up to timeout (then
// kills it), and returns its peak resident set size in bytes (getrusage ru_maxrss of
// the exited process, KiB on Linux).
func (c *benchChild) stop(timeout time.Duration) (int64, error) {
	c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(timeout):
		c.cmd.Process.Kill()
		<-c.exited
	}
	if err := c.cmd.Wait(); err != nil {
		return 0, fmt.Errorf("bench worker: %w", err)
	}
	ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, errors.New("bench worker: no resource usage for the exited process")
	}
	return int64(ru.Maxrss) * 1024, c.err
}

// kill ends the worker if it still runs (after a failure).
func (c *benchChild) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Kill()
		<-c.exited
		c.cmd.Wait()
	}
}
