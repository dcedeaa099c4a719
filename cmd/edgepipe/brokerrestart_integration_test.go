//go:build integration

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/datasets"
)

// brConnectRetry is the longest wait between MQTT reconnection attempts in the broker
// restart test, and brOutage how long the broker stays down: several backoff rounds
// (1 s, then 2 s each), so a client that gave up after a few tries would fail the test.
const (
	brConnectRetry = 2 * time.Second
	brOutage       = 15 * time.Second
)

// brLog counts edgepipe's log lines that contain a phrase.
type brLog struct {
	mu     sync.Mutex
	counts map[string]int
}

func (l *brLog) count(phrase string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[phrase]
}

// brPhrases are the log lines brLog counts: a (re)subscription, a reconnection attempt,
// a lost connection.
var brPhrases = []string{"mqtt subscribed", "mqtt reconnecting", "mqtt connection lost"}

// brConfig writes configs/demo.yaml with connect_retry set to brConnectRetry into dir and
// returns its path.
func brConfig(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const line = "  client_id: ${EDGEPIPE_CLIENT_ID:-edgepipe-demo}\n"
	if !strings.Contains(string(b), line) {
		t.Fatalf("configs/demo.yaml has no line %q to add connect_retry after", line)
	}
	conf := strings.Replace(string(b), line, line+"  connect_retry: "+brConnectRetry.String()+"\n", 1)
	path := filepath.Join(dir, "edgepipe.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// brStartRun starts `edgepipe run -c conf --metrics 127.0.0.1:0` with env, waits until it
// has subscribed, and returns it, its metrics URL and the counts of its log lines.
func brStartRun(t *testing.T, bin, conf string, env []string) (*exec.Cmd, string, *brLog) {
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
	logs := &brLog{counts: map[string]int{}}
	metrics := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "url=http://"); i >= 0 {
				metrics <- strings.Fields(line[i+len("url="):])[0]
			}
			logs.mu.Lock()
			for _, p := range brPhrases {
				if strings.Contains(line, p) {
					logs.counts[p]++
				}
			}
			logs.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill() }) // after a failed test; a no-op once stopRun has run
	deliveryWaitFor(t, 30*time.Second, "edgepipe run to subscribe", func() bool { return logs.count("mqtt subscribed") > 0 })
	return cmd, <-metrics, logs
}

// brSplit returns the first n readings of every stream, and the rest.
func brSplit(streams []datasets.Stream, n int) (head, tail []datasets.Stream) {
	for _, s := range streams {
		head = append(head, datasets.Stream{Name: s.Name, Times: s.Times[:n], Values: s.Values[:n]})
		tail = append(tail, datasets.Stream{Name: s.Name, Times: s.Times[n:], Values: s.Values[n:]})
	}
	return head, tail
}

// brReplay publishes streams with QoS 1 at full speed and returns how many readings the
// broker acknowledged.
func brReplay(t *testing.T, url, site string, streams []datasets.Stream) int {
	t.Helper()
	st, err := mqttconn.Replay(context.Background(), mqttconn.ReplayOptions{URL: url, ClientID: site + "-replay",
		Topic: site + "/{device}/reading", QoS: 1, Streams: streams})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	return st.Published
}

// TestIntegrationBrokerRestart is issue 3's scenario 2: the MQTT broker (a real
// Mosquitto) stops while edgepipe works through a backlog of QoS 1 readings and stays
// down for brOutage, several reconnection backoff rounds; edgepipe must keep trying,
// reconnect and resubscribe when it is back, store the rest of the backlog and what is
// published afterwards: every reading exactly once, every closed window's summary in
// the JetStream stream exactly once.
func TestIntegrationBrokerRestart(t *testing.T) {
	began := time.Now()
	const devices, per = 25, 1000
	const total = devices * per
	bin := buildBinary(t)
	dir := t.TempDir()
	mosq := startMosquitto(t, deliveryDir(t, dir, "mosquitto"))
	nats := startNATS(t, deliveryDir(t, dir, "nats"))
	site := fmt.Sprintf("brokerrestart%d", time.Now().UnixNano())
	dbPath := filepath.Join(dir, "edgepipe.db")
	model, err := filepath.Abs("../../configs/demo.model")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"EDGEPIPE_MQTT_URL=" + mosq.mqttURL(), "EDGEPIPE_NATS_URL=" + nats.natsURL(), "EDGEPIPE_DB=" + dbPath,
		"EDGEPIPE_MODEL=" + model, "EDGEPIPE_SITE=" + site, "EDGEPIPE_CLIENT_ID=edgepipe-" + site, "EDGEPIPE_TOPIC_ROOT=" + site}
	streams := deliveryStreams(devices, per)
	before, after := brSplit(streams, 800)

	conf := brConfig(t, dir)
	// A first run creates the persistent session; while edgepipe is down the broker
	// queues the first 800 readings of every stream; the broker stops while edgepipe works
	// through this backlog.
	run, _, _ := brStartRun(t, bin, conf, env)
	stopRun(t, run)
	sent := brReplay(t, mosq.mqttURL(), site, before)
	run, metrics, logs := brStartRun(t, bin, conf, env)
	// edgepipe takes the backlog at thousands a second: stop the broker as soon as it has
	// taken 1,000 (the metric is quicker to read than the database).
	deliveryWaitFor(t, 30*time.Second, "1,000 readings received", func() bool {
		n, err := strconv.ParseFloat(metricValue(t, metrics, "edgepipe_received_total"), 64)
		return err == nil && n >= 1000
	})
	mosq.stop()
	atStop := storedCount(t, dbPath)
	if atStop >= int64(sent) {
		t.Fatalf("stored %d of %d before the broker stopped; the test wants the stop mid-stream", atStop, sent)
	}

	// The outage: edgepipe must go on retrying for ever, with backoff.
	down := time.Now()
	reconnecting := logs.count("mqtt reconnecting")
	time.Sleep(brOutage)
	if got := metricValue(t, metrics, `edgepipe_connected{connector="mqtt"}`); got != "0" {
		t.Errorf("edgepipe_connected{connector=\"mqtt\"} = %s during the outage, want 0", got)
	}
	attempts := logs.count("mqtt reconnecting") - reconnecting
	if attempts < 5 {
		t.Errorf("%d reconnection attempts in the %v outage, want ≥ 5 (backoff up to %v, retried for ever)", attempts, brOutage, brConnectRetry)
	}
	// What edgepipe had taken before the stop is committed during the outage, but its
	// acks die with the connection: the broker redelivers it (counted as duplicates).
	duringOutage := storedCount(t, dbPath)
	mosq.start()
	up := time.Now()
	deliveryWaitFor(t, 3*brConnectRetry+10*time.Second, "edgepipe to resubscribe after the broker came back",
		func() bool { return logs.count("mqtt subscribed") >= 2 })
	resubscribed := time.Since(up)

	// After: the rest of every stream (200 readings each), published once edgepipe is
	// subscribed again.
	sent += brReplay(t, mosq.mqttURL(), site, after)
	deliveryWaitStored(t, dbPath, total, 60*time.Second)
	recovery := time.Since(up)
	deliveryWaitOutbox(t, dbPath)
	if got := metricValue(t, metrics, `edgepipe_connected{connector="mqtt"}`); got != "1" {
		t.Errorf("edgepipe_connected{connector=\"mqtt\"} = %s after the broker came back, want 1", got)
	}
	redelivered := metricValue(t, metrics, "edgepipe_duplicates_total")
	stopRun(t, run)

	if sent != total {
		t.Fatalf("the broker acknowledged %d publishes, want %d", sent, total)
	}
	stored, lost, dup, stray := deliveryStoredOnce(t, dbPath, streams)
	t.Logf("scenario 2: sent %d, stored %d, lost %d, duplicated %d, recovery %.1fs (broker stopped at %d stored, %d stored while down %.1fs, %d reconnection attempts, resubscribed %.1fs after restart, %s redeliveries stored once; test %.1fs)",
		sent, stored, lost, dup, recovery.Seconds(), atStop, duringOutage, up.Sub(down).Seconds(), attempts, resubscribed.Seconds(), redelivered, time.Since(began).Seconds())
	if stored != total || lost != 0 || dup != 0 || stray != 0 {
		t.Errorf("scenario 2: stored %d, lost %d, duplicated %d, stray %d; want %d readings each exactly once", stored, lost, dup, stray, total)
	}
	if c := dbCounts(t, dbPath); c.DeadLetters != 0 || c.Outbox != 0 {
		t.Errorf("scenario 2: %d dead letters, %d summaries left in the outbox; want 0 and 0", c.DeadLetters, c.Outbox)
	}
	deliveryCheckSummaries(t, 2, dbPath, nats.natsURL(), site, streams)
}
