package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/connectors/embedded"
	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

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

// startRun starts `edgepipe run -c configs/demo.yaml --metrics 127.0.0.1:0` with env,
// waits until its MQTT source is subscribed, and returns it with its metrics URL.
func startRun(t *testing.T, bin string, env []string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "run", "-c", "../../configs/demo.yaml", "--metrics", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	subscribed := make(chan struct{})
	metrics := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "url=http://"); i >= 0 {
				metrics <- strings.Fields(line[i+len("url="):])[0]
			}
			if !once && strings.Contains(line, "mqtt subscribed") {
				once = true
				close(subscribed)
			}
		}
	}()
	select {
	case <-subscribed:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("edgepipe run did not subscribe within 30 s")
	}
	return cmd, <-metrics
}

// metricValue fetches a metrics page and returns the value of the sample named name.
func metricValue(t *testing.T, url, name string) string {
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
			return f[1]
		}
	}
	t.Fatalf("%s: no sample %s", url, name)
	return ""
}

// stopRun sends SIGTERM and checks that edgepipe drains and exits 0.
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

// TestRunSIGTERMUnderLoadDrainsAndLosesNothing stops `edgepipe run` with SIGTERM while
// readings are still arriving: it must exit 0 after draining, and what it had not
// committed must not have been acked, so a second run (same persistent session) stores
// the rest: every reading exactly once over the two runs, and the outbox empty.
func TestRunSIGTERMUnderLoadDrainsAndLosesNothing(t *testing.T) {
	bin := buildBinary(t)
	broker, err := embedded.StartMQTT("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	tmp := t.TempDir()
	ns, err := embedded.StartNATS(filepath.Join(tmp, "nats"))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()

	dir := oneStream(t, "ec2_request_latency_system_failure")
	streams, err := datasets.ReadNABDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	model, err := trainStreams(streams, models.DefaultAnomalyOptions(), "test")
	if err != nil {
		t.Fatal(err)
	}
	modelPath, dbPath := filepath.Join(tmp, "m.model"), filepath.Join(tmp, "e.db")
	if err := model.Save(modelPath); err != nil {
		t.Fatal(err)
	}
	env := []string{"EDGEPIPE_MQTT_URL=" + broker.URL(), "EDGEPIPE_NATS_URL=" + ns.URL(), "EDGEPIPE_DB=" + dbPath,
		"EDGEPIPE_MODEL=" + modelPath, "EDGEPIPE_SITE=sigterm", "EDGEPIPE_CLIENT_ID=edgepipe-sigterm"}

	run, _ := startRun(t, bin, env)
	published := make(chan int, 1)
	go func() {
		st, err := mqttconn.Replay(context.Background(), mqttconn.ReplayOptions{URL: broker.URL(), ClientID: "sigterm-replay",
			Topic: "sensors/{device}/reading", QoS: 1, Rate: 4000, Streams: streams})
		if err != nil {
			t.Error(err)
		}
		published <- st.Published
	}()
	// SIGTERM once a few hundred readings are stored, with most still to come.
	for deadline := time.Now().Add(30 * time.Second); storedCount(t, dbPath) < 300 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	stopRun(t, run)
	first := storedCount(t, dbPath)
	if first == 0 || first >= 4032 {
		t.Fatalf("first run stored %d readings; the test wants SIGTERM mid-stream", first)
	}
	if n := <-published; n != 4032 {
		t.Fatalf("published %d, want 4032", n)
	}

	run, metrics := startRun(t, bin, env)
	deadline := time.Now().Add(60 * time.Second)
	for storedCount(t, dbPath) < 4032 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// The second run's metrics count what it stored: the rest.
	if got, want := metricValue(t, metrics, "edgepipe_stored_total"), fmt.Sprint(4032-first); got != want {
		t.Errorf("edgepipe_stored_total = %s, want %s", got, want)
	}
	stopRun(t, run)

	if c := dbCounts(t, dbPath); c.Inferences != 4032 || c.DeadLetters != 0 || c.Outbox != 0 {
		t.Fatalf("after two runs: %+v (first run stored %d); want 4032 readings once each, no dead letters, empty outbox", c, first)
	}
}

func storedCount(t *testing.T, path string) int64 { return dbCounts(t, path).Inferences }

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
