package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/connectors/embedded"
	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
)

// The harness of the tests that run the edgepipe binary (TestRunSIGTERMUnderLoad… here,
// the delivery scenarios of issue 3 behind the integration build tag): build it, start
// `edgepipe run`, read its log and metrics, wait, stop it, count what it stored.

// demoConfig is the shipped demo pipeline, relative to this package's folder.
const demoConfig = "../../configs/demo.yaml"

// buildBinary compiles edgepipe into a temporary folder.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edgepipe")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runLog collects the lines (slog text) an `edgepipe run` writes to stderr.
type runLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *runLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// count returns the number of lines so far that contain every one of parts.
func (l *runLog) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, line := range l.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		n++
	}
	return n
}

// startRun starts `edgepipe run -c conf --metrics 127.0.0.1:0` with env added to the
// test's environment, waits (30 s at most) until its MQTT source is subscribed, and
// returns the process, its metrics URL and its log. A process still running when the
// test ends (after a failure) is killed.
func startRun(t *testing.T, bin, conf string, env []string) (*exec.Cmd, string, *runLog) {
	t.Helper()
	cmd := exec.Command(bin, "run", "-c", conf, "--metrics", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	logs := &runLog{}
	metrics := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "url=http://"); i >= 0 {
				select {
				case metrics <- strings.Fields(line[i+len("url="):])[0]:
				default: // only the first URL is the metrics page
				}
			}
			logs.add(line)
		}
	}()
	waitFor(t, 30*time.Second, "edgepipe run to subscribe", func() bool { return logs.count("mqtt subscribed") > 0 })
	select {
	case url := <-metrics:
		return cmd, url, logs
	case <-time.After(5 * time.Second):
		t.Fatal("edgepipe run subscribed without logging its metrics URL")
		return nil, "", nil
	}
}

// stopRun sends SIGTERM and checks that edgepipe drains and exits 0 (within 40 s).
func stopRun(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("edgepipe run after SIGTERM: %v, want exit status 0", err)
		}
	case <-time.After(40 * time.Second):
		cmd.Process.Kill()
		t.Fatal("edgepipe run did not exit within 40 s of SIGTERM")
	}
}

// waitFor polls cond every 50 ms until it holds, failing the test (naming what it waited
// for) after timeout; it returns the time it waited.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// metricValue fetches a metrics page and returns the value of the sample named name
// (with its labels, e.g. `edgepipe_connected{connector="nats"}`).
func metricValue(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("%s: sample %s: %v", url, name, err)
			}
			return v
		}
	}
	t.Fatalf("%s: no sample %s", url, name)
	return 0
}

// storedCount returns the number of rows in the inferences table of the database at path.
func storedCount(t *testing.T, path string) int64 { return dbCounts(t, path).Inferences }

// dbCounts returns the row counts of the database at path.
func dbCounts(t *testing.T, path string) store.Counts {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startEmbedded starts the embedded MQTT broker (loopback, free port) and NATS server
// with JetStream (its store in a new temporary folder), both closed when the test ends,
// and returns them with a temporary folder for the test's files.
func startEmbedded(t *testing.T) (*embedded.MQTTBroker, *embedded.NATSServer, string) {
	t.Helper()
	tmp := t.TempDir()
	broker, err := embedded.StartMQTT("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Close() })
	ns, err := embedded.StartNATS(filepath.Join(tmp, "nats"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	return broker, ns, tmp
}

// runCommand runs a cobra command with args and returns what it wrote to standard output
// and standard error, and its error.
func runCommand(cmd *cobra.Command, args ...string) (string, error) {
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// modelVersions returns how many stored readings of the database at path each model
// version scored ("" = not scored), and the versions in event-time order, each change once.
func modelVersions(t *testing.T, path string) (counts map[string]int, seq []string) {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counts = map[string]int{}
	err = db.Inferences(context.Background(), store.QueryOptions{}, func(inf store.Inference) error {
		counts[inf.Model]++
		if inf.Model != "" && (len(seq) == 0 || seq[len(seq)-1] != inf.Model) {
			seq = append(seq, inf.Model)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stored readings by model version: %v", counts)
	return counts, seq
}

// replayAsync plays streams to the broker at url (QoS 1, rate readings/s, topic
// sensors/{device}/reading) in the background; the channel gets the number published.
func replayAsync(t *testing.T, url, clientID string, rate float64, streams []datasets.Stream) <-chan int {
	published := make(chan int, 1)
	go func() {
		st, err := mqttconn.Replay(context.Background(), mqttconn.ReplayOptions{URL: url, ClientID: clientID,
			Topic: "sensors/{device}/reading", QoS: 1, Rate: rate, Streams: streams})
		if err != nil {
			t.Error(err)
		}
		published <- st.Published
	}()
	return published
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (a child's stderr copier, a
// logger's timer goroutine) and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
