package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
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
	lat   *benchLatencies
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
func startBenchChild(argv, env []string, logs io.Writer, lat *benchLatencies) (*benchChild, error) {
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

// benchMaxLine is the longest worker message the bench reads.
const benchMaxLine = 1 << 20

// read parses the worker's messages until its stdout ends. The r messages, one per
// stored reading, take the fast path: no allocation, and their counts reach the
// atomic counters once per buffer of input (before read waits for more, and before any
// other message) rather than once per reading.
func (c *benchChild) read(r io.Reader) {
	defer close(c.exited)
	br := bufio.NewReaderSize(r, 64<<10)
	var at int64 // the current transaction's commit time (unix ns)
	// stored, measured are the r messages not yet added to c.stored and c.measured.
	var stored, measured int64
	flush := func() {
		if stored > 0 {
			c.stored.Add(stored)
			stored = 0
		}
		if measured > 0 {
			c.measured.Add(measured)
			c.lastCommit.Store(at)
			measured = 0
		}
	}
	defer flush()
	for {
		if br.Buffered() == 0 {
			flush()
		}
		line, err := readBenchLine(br)
		if len(line) == 0 && err != nil {
			if err != io.EOF {
				c.err = err
			}
			return
		}
		if len(line) > 2 && line[0] == 'r' && line[1] == ' ' {
			if ns, device, ok := parseBenchReading(line[2:]); ok {
				stored++
				if at >= c.from.Load() {
					measured++
				}
				c.lat.commit(device, ns, at)
				continue
			}
		}
		flush()
		if err := c.message(string(line), &at); err != nil {
			c.err = fmt.Errorf("bench worker: message %q: %v", line, err)
			io.Copy(io.Discard, br) // let the worker finish; the bench stops it
			return
		}
	}
}

// readBenchLine returns the next line of br without its line end ("\n" or "\r\n"), valid
// until the next read; at the end of the input, a last line without "\n" and then
// io.EOF. A line longer than benchMaxLine is an error.
func readBenchLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull && len(long) <= benchMaxLine {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		if len(long) > benchMaxLine {
			return nil, errors.New("bench worker: message longer than 1 MiB")
		}
		line = long
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), err
}

// parseBenchReading parses the fields of an r message after "r ": the event time in
// unix ns and the device id (the rest of the line, a slice of b).
func parseBenchReading(b []byte) (ns int64, device []byte, ok bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := int64(b[i] - '0')
		if ns > (math.MaxInt64-d)/10 { // out of range: the slow path says so
			return 0, nil, false
		}
		ns = ns*10 + d
	}
	if i == start || i >= len(b) || b[i] != ' ' {
		return 0, nil, false
	}
	if neg {
		ns = -ns
	}
	return ns, b[i+1:], true
}

// message handles one message other than a well-formed r message; *at is the current
// transaction's commit time (unix ns), set by c messages.
func (c *benchChild) message(line string, at *int64) error {
	kind, rest, _ := strings.Cut(line, " ")
	switch kind {
	case "r":
		ts, device, _ := strings.Cut(rest, " ")
		ns, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return err
		}
		c.stored.Add(1)
		c.count(*at, 1)
		c.lat.commit([]byte(device), ns, *at)
	case "c":
		return c.commit(rest, at)
	case "s":
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return err
		}
		c.summaries.Add(n)
	case "m":
		s, err := parseBenchSnapshot(strings.Fields(rest))
		if err != nil {
			return err
		}
		c.snaps <- s
	case "ready":
		close(c.ready)
	default:
		return errors.New("unknown message")
	}
	return nil
}

// commit parses a c message's fields and sets *at to its commit time (unix ns).
func (c *benchChild) commit(rest string, at *int64) error {
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
	*at = v[0]
	c.duplicates.Add(v[1])
	c.dead.Add(v[2])
	c.count(*at, v[2])
	return nil
}

// count adds n readings committed at at (unix ns) to the measured window when at is in
// it.
func (c *benchChild) count(at int64, n int64) {
	if n > 0 && at >= c.from.Load() {
		c.measured.Add(n)
		c.lastCommit.Store(at)
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
