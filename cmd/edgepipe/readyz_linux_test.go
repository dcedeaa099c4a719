package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgepipe/edgepipe/connectors/embedded"
	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/datasets"
)

// TestRunReadyzFollowsBrokerAndStore runs `edgepipe run` (the demo pipeline at log level
// debug, against a broker that requires a password and a NATS URL with user:password)
// and checks /healthz and /readyz against real failures:
//
//   - the broker stops: /readyz answers 503 naming mqtt, /healthz still 200; the broker
//     restarts on the same port: 200 again;
//   - the store cannot write: the process's file size limit (RLIMIT_FSIZE, which binds
//     root too, unlike file permissions) is set to 0 so that every write to the database
//     fails with EFBIG: 503 naming the store and edgepipe_store_healthy 0; the limit is
//     lifted: 200 again, and every reading published meanwhile is stored, once;
//
// and, at the end, that neither password appears in any log line.
func TestRunReadyzFollowsBrokerAndStore(t *testing.T) {
	const mqttUser, mqttPass, natsPass = "edge", "mqtt-Pa55word", "nats-Pa55word"
	bin := buildBinary(t)
	broker, err := embedded.StartMQTTAuth("127.0.0.1:0", mqttUser, mqttPass)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { broker.Close() }()
	addr := strings.TrimPrefix(broker.URL(), "tcp://")
	tmp := t.TempDir()
	ns, err := embedded.StartNATS(filepath.Join(tmp, "nats"))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	natsURL := strings.Replace(ns.URL(), "nats://", "nats://cloud:"+natsPass+"@", 1)

	demo, err := os.ReadFile(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	const clientLine = "  client_id: ${EDGEPIPE_CLIENT_ID:-edgepipe-demo}\n"
	if !strings.Contains(string(demo), clientLine) {
		t.Fatal("configs/demo.yaml no longer sets client_id as this test expects; adapt it")
	}
	conf := filepath.Join(tmp, "ready.yaml")
	text := "log_level: debug\n" + strings.Replace(string(demo), clientLine, clientLine+"  connect_retry: 500ms\n", 1)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	model, err := filepath.Abs("../../configs/demo.model")
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(tmp, "e.db")
	env := []string{"EDGEPIPE_MQTT_URL=" + broker.URL(), "EDGEPIPE_MQTT_USERNAME=" + mqttUser, "EDGEPIPE_MQTT_PASSWORD=" + mqttPass,
		"EDGEPIPE_NATS_URL=" + natsURL, "EDGEPIPE_DB=" + dbPath, "EDGEPIPE_MODEL=" + model,
		"EDGEPIPE_SITE=ready", "EDGEPIPE_CLIENT_ID=edgepipe-ready"}
	run, metrics, logs := startRun(t, bin, conf, env)
	base := strings.TrimSuffix(metrics, "/metrics")
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	readyz := func(code int, parts ...string) func() bool {
		return func() bool {
			c, body := get("/readyz")
			for _, p := range parts {
				if !strings.Contains(body, p) {
					return false
				}
			}
			return c == code
		}
	}

	waitFor(t, 30*time.Second, "/readyz 200", readyz(200, "ready\n", "pipeline ok: running", "mqtt ok: connected to tcp://127.0.0.1", "store ok", "nats ok: connected"))
	if c, body := get("/healthz"); c != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", c, body)
	}
	c, body := get("/readyz?format=json")
	var doc struct {
		Ready  bool
		Checks []struct {
			Name string
			OK   bool
		}
	}
	if err := json.Unmarshal([]byte(body), &doc); c != 200 || err != nil || !doc.Ready || len(doc.Checks) != 4 {
		t.Fatalf("/readyz?format=json: %d %s (%v)", c, body, err)
	}

	// The broker stops, then comes back on the same port.
	broker.Close()
	waitFor(t, 20*time.Second, "/readyz 503 with the broker down", readyz(503, "not ready\n", "mqtt FAIL: not connected"))
	if c, _ := get("/healthz"); c != 200 {
		t.Fatalf("/healthz with the broker down: %d, want 200 (alive)", c)
	}
	if broker, err = embedded.StartMQTTAuth(addr, mqttUser, mqttPass); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "/readyz 200 after the broker restarted", readyz(200, "mqtt ok"))

	// The store cannot write.
	streams, err := datasets.ReadNABDir(oneStream(t, "ec2_request_latency_system_failure"))
	if err != nil {
		t.Fatal(err)
	}
	s := streams[0]
	publish := func(from, to int) {
		t.Helper()
		part := s
		part.Times, part.Values = s.Times[from:to], s.Values[from:to]
		st, err := mqttconn.Replay(context.Background(), mqttconn.ReplayOptions{URL: broker.URL(), ClientID: "ready-replay",
			Username: mqttUser, Password: mqttPass, Topic: "sensors/{device}/reading", QoS: 1, Rate: 2000, Streams: []datasets.Stream{part}})
		if err != nil || st.Published != to-from {
			t.Fatalf("published %d of %d: %v", st.Published, to-from, err)
		}
	}
	publish(0, 300)
	waitFor(t, 30*time.Second, "300 stored readings", func() bool { return storedCount(t, dbPath) == 300 })
	setFileSizeLimit(t, run.Process.Pid, 0)
	publish(300, 600)
	waitFor(t, 20*time.Second, "/readyz 503 with the store failing", readyz(503, "store FAIL: the last transaction failed"))
	if v := metricValue(t, metrics, "edgepipe_store_healthy"); v != 0 {
		t.Fatalf("edgepipe_store_healthy = %v with the store failing, want 0", v)
	}
	if n := storedCount(t, dbPath); n != 300 {
		t.Fatalf("%d readings stored while the store could not write, want 300", n)
	}
	setFileSizeLimit(t, run.Process.Pid, unix.RLIM_INFINITY)
	waitFor(t, 30*time.Second, "/readyz 200 after the store recovered", readyz(200, "store ok"))
	waitFor(t, 30*time.Second, "600 stored readings", func() bool { return storedCount(t, dbPath) == 600 })
	stopRun(t, run)
	if c := dbCounts(t, dbPath); c.Inferences != 600 || c.DeadLetters != 0 {
		t.Fatalf("stored %d readings and %d dead letters, want 600 and 0", c.Inferences, c.DeadLetters)
	}

	// No secret in any line, though the broker's outage and the store's failure were logged.
	lines := logs.all()
	if logs.count("level=ERROR", "store: transaction failed") == 0 || logs.count("mqtt connection lost") == 0 {
		t.Fatalf("the failures were not logged:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if strings.Contains(l, mqttPass) || strings.Contains(l, natsPass) {
			t.Errorf("a secret in the log: %s", l)
		}
	}
	t.Logf("%d log lines, none with a secret", len(lines))
}

// setFileSizeLimit sets the soft RLIMIT_FSIZE (bytes) of process pid, keeping the hard
// limit unlimited: a write past the limit fails with EFBIG, for root too.
func setFileSizeLimit(t *testing.T, pid int, limit uint64) {
	t.Helper()
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: limit, Max: unix.RLIM_INFINITY}, nil); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
}

// all returns the lines so far.
func (l *runLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
