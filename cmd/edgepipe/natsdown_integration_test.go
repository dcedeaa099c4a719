//go:build integration

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	natsconn "github.com/edgepipe/edgepipe/connectors/nats"
	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
)

// Helpers of the outage scenarios (issue 3, scenarios 3 to 5), prefixed sc.

// scLog collects edgepipe's stderr (slog text lines).
type scLog struct {
	mu    sync.Mutex
	lines []string
}

// count returns the number of lines containing every one of parts.
func (l *scLog) count(parts ...string) int {
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

// scConfig writes a copy of configs/demo.yaml into dir with storeExtra appended to the
// store section and outputExtra to the output section (both indented YAML lines, "" for
// none), and returns its path.
func scConfig(t *testing.T, dir, storeExtra, outputExtra string) string {
	t.Helper()
	b, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	const storeHead = "store:\n  type: sqlite\n"
	if !strings.Contains(conf, storeHead) || !strings.HasSuffix(strings.TrimSpace(conf), "format: msgpack") {
		t.Fatal("configs/demo.yaml changed shape: update scConfig")
	}
	conf = strings.Replace(conf, storeHead, storeHead+storeExtra, 1)
	conf = strings.TrimRight(conf, "\n") + "\n" + outputExtra
	path := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// scEnv returns the environment of `edgepipe run` for the scenario tests: the shipped
// demo model, a database at db, a site (also the topic root and client id suffix).
func scEnv(t *testing.T, mqttURL, natsURL, db, site string) []string {
	t.Helper()
	model, err := filepath.Abs("../../configs/demo.model")
	if err != nil {
		t.Fatal(err)
	}
	return []string{"EDGEPIPE_MQTT_URL=" + mqttURL, "EDGEPIPE_NATS_URL=" + natsURL, "EDGEPIPE_DB=" + db,
		"EDGEPIPE_MODEL=" + model, "EDGEPIPE_SITE=" + site, "EDGEPIPE_CLIENT_ID=edgepipe-" + site, "EDGEPIPE_TOPIC_ROOT=" + site}
}

// scStartRun starts `edgepipe run -c conf --metrics 127.0.0.1:0` with env, waits until
// its MQTT source is subscribed, and returns it with its metrics URL and its log.
func scStartRun(t *testing.T, bin, conf string, env []string) (*exec.Cmd, string, *scLog) {
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
	logs := &scLog{}
	metrics := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "url=http://"); i >= 0 {
				metrics <- strings.Fields(line[i+len("url="):])[0]
			}
			logs.mu.Lock()
			logs.lines = append(logs.lines, line)
			logs.mu.Unlock()
		}
	}()
	scWaitFor(t, 30*time.Second, "edgepipe run to subscribe", func() bool { return logs.count("mqtt subscribed") > 0 })
	return cmd, <-metrics, logs
}

// scDir creates the folder dir/name and returns it. dir and its parent (t.TempDir's
// folders, mode 0700) are opened to others, since Mosquitto started as root drops to the
// mosquitto user and must reach its persistence folder.
func scDir(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// scWaitFor polls cond every 50 ms until it holds, failing the test after timeout; it
// returns the time it waited.
func scWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
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

// scMetric returns the value of an unlabelled sample on a metrics page.
func scMetric(t *testing.T, url, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(metricValue(t, url, name), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// scSlice returns the readings [from, to) of every stream.
func scSlice(streams []datasets.Stream, from, to int) []datasets.Stream {
	out := make([]datasets.Stream, len(streams))
	for i, s := range streams {
		out[i] = datasets.Stream{Name: s.Name, Times: s.Times[from:to], Values: s.Values[from:to]}
	}
	return out
}

// scPublish publishes streams with QoS 1 on <site>/{device}/reading as fast as the
// broker acknowledges, and returns the number of PUBACKed readings.
func scPublish(t *testing.T, url, site string, streams []datasets.Stream) int {
	t.Helper()
	st, err := mqttconn.Replay(context.Background(), mqttconn.ReplayOptions{URL: url, ClientID: site + "-replay",
		Topic: site + "/{device}/reading", QoS: 1, Streams: streams})
	if err != nil {
		t.Fatal(err)
	}
	return st.Published
}

// scReadings checks the inferences against the published streams: stored is the number
// of rows, lost the published (device, time) keys without a row, duplicated the rows
// beyond the first of a key.
func scReadings(t *testing.T, dbPath string, streams []datasets.Stream) (stored, lost, duplicated int) {
	t.Helper()
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seen := map[string]int{}
	if err := db.Inferences(context.Background(), store.QueryOptions{}, func(inf store.Inference) error {
		seen[inf.Device+"@"+strconv.FormatInt(inf.Time.UnixMilli(), 10)]++
		stored++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		for _, ts := range s.Times {
			switch n := seen[s.Name+"@"+strconv.FormatInt(ts.UnixMilli(), 10)]; {
			case n == 0:
				lost++
			case n > 1:
				duplicated += n - 1
			}
		}
	}
	return stored, lost, duplicated
}

// scStreamOrder returns the Nats-Msg-Id of every summary of site in the EDGEPIPE stream,
// in stream sequence order.
func scStreamOrder(t *testing.T, natsURL, site string) []string {
	t.Helper()
	nc, err := natsconn.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, natsconn.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{natsconn.DefaultSubjectPrefix + "." + natsconn.SanitizeToken(site) + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		batch, err := cons.FetchNoWait(1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			ids = append(ids, m.Headers().Get("Nats-Msg-Id"))
			n++
		}
		if n == 0 {
			return ids
		}
	}
}

// scQueryOutbox runs `edgepipe query --db dbPath --outbox` and decodes its JSON lines.
func scQueryOutbox(t *testing.T, bin, dbPath string) []outboxRow {
	t.Helper()
	out, err := exec.Command(bin, "query", "--db", dbPath, "--outbox").Output()
	if err != nil {
		t.Fatalf("edgepipe query --outbox: %v", err)
	}
	var rows []outboxRow
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var r outboxRow
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("edgepipe query --outbox: %v in %q", err, out)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestIntegrationNATSDown stops nats-server for a minute while readings flow: the
// summaries that close meanwhile wait in the outbox (edgepipe_outbox_depth and `edgepipe
// query --outbox` show them), and when the server is back they are forwarded in outbox
// order, each once in the stream, while every reading is stored once.
//
// 4 devices × 5761 readings (one a minute: 4 days and a minute) with 24 h windows and no
// lateness close 4 windows per device: 16 summaries. Day 0 (1441 readings per device, the
// first closing window 0) is sent with NATS up; the rest, closing 12 windows, while it is
// down. The outage lasts 60 s; the forwarder's retry_max is 5 s so that the recovery
// (reconnect, then drain) stays a few seconds and the test well under 2 minutes.
func TestIntegrationNATSDown(t *testing.T) {
	const (
		devices, per = 4, 4*1440 + 1
		before       = 1441 // readings per device sent before the outage
		outage       = 60 * time.Second
		wantSums     = devices * 4
	)
	began := time.Now()
	bin := buildBinary(t)
	tmp := t.TempDir()
	mq := startMosquitto(t, scDir(t, tmp, "mosquitto"))
	ns := startNATS(t, scDir(t, tmp, "nats"))
	site := "natsdown" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	dbPath := filepath.Join(tmp, "edge.db")
	conf := scConfig(t, tmp, "", "  retry_max: 5s\n")
	run, metrics, _ := scStartRun(t, bin, conf, scEnv(t, mq.mqttURL(), ns.natsURL(), dbPath, site))
	streams := syntheticStreams(devices, per)

	sent := scPublish(t, mq.mqttURL(), site, scSlice(streams, 0, before))
	scWaitFor(t, 30*time.Second, "window 0 of every device forwarded", func() bool {
		return scMetric(t, metrics, "edgepipe_summaries_forwarded_total") == devices
	})

	ns.stop()
	down := time.Now()
	scWaitFor(t, 10*time.Second, "edgepipe_connected{connector=\"nats\"} 0", func() bool {
		return metricValue(t, metrics, `edgepipe_connected{connector="nats"}`) == "0"
	})
	sent += scPublish(t, mq.mqttURL(), site, scSlice(streams, before, per))
	scWaitFor(t, 40*time.Second, "12 summaries in the outbox", func() bool {
		return scMetric(t, metrics, "edgepipe_outbox_depth") == wantSums-devices
	})
	depth := scMetric(t, metrics, "edgepipe_outbox_depth")
	waiting := scQueryOutbox(t, bin, dbPath)
	if len(waiting) != wantSums-devices {
		t.Fatalf("edgepipe query --outbox listed %d entries, want %d", len(waiting), wantSums-devices)
	}
	// Oldest first: the sink writes the windows a batch closes sorted by device, then
	// start, so every device's windows are in start order, and created never decreases.
	lastStart := map[string]int64{}
	for i, w := range waiting {
		if w.MsgID != site+"/"+w.Device+"/"+strconv.FormatInt(w.StartMs, 10) {
			t.Fatalf("outbox entry %+v: msg_id is not site/device/start_ms", w)
		}
		if w.StartMs <= lastStart[w.Device] || (i > 0 && w.Created.Before(waiting[i-1].Created)) {
			t.Fatalf("outbox entries out of order at %d: %+v", i, waiting)
		}
		lastStart[w.Device] = w.StartMs
	}
	if w := waiting[0]; w.StartMs != streams[0].Times[0].Add(24*time.Hour).UnixMilli() {
		t.Fatalf("oldest outbox entry %+v, want the window of day 1", w)
	}

	time.Sleep(time.Until(down.Add(outage)))
	ns.start()
	up := time.Now()
	scWaitFor(t, 40*time.Second, "the outbox to drain", func() bool {
		return scMetric(t, metrics, "edgepipe_outbox_depth") == 0 && scMetric(t, metrics, "edgepipe_summaries_forwarded_total") == wantSums
	})
	recovery := time.Since(up)
	scWaitFor(t, 30*time.Second, "every reading stored", func() bool { return storedCount(t, dbPath) >= int64(sent) })
	stopRun(t, run)

	stored, lost, dupReadings := scReadings(t, dbPath, streams)
	ids := scStreamOrder(t, ns.natsURL(), site)
	counts := map[string]int{}
	dupSums := 0
	for _, id := range ids {
		if counts[id]++; counts[id] > 1 {
			dupSums++
		}
	}
	lostSums := 0
	for d := range devices {
		for w := range 4 {
			id := site + "/" + streams[d].Name + "/" + strconv.FormatInt(streams[d].Times[0].Add(time.Duration(w)*24*time.Hour).UnixMilli(), 10)
			if counts[id] == 0 {
				lostSums++
			}
		}
	}
	t.Logf("scenario 3: sent %d, stored %d, lost %d, duplicated %d, recovery %.1fs (NATS down %.0fs, outbox depth %.0f during the outage, summaries %d in the stream, %d lost, %d duplicated; test %.0fs)",
		sent, stored, lost+lostSums, dupReadings+dupSums, recovery.Seconds(), up.Sub(down).Seconds(), depth, len(ids), lostSums, dupSums, time.Since(began).Seconds())
	if sent != devices*per || stored != sent || lost != 0 || dupReadings != 0 {
		t.Fatalf("readings: sent %d (want %d), stored %d, lost %d, duplicated %d", sent, devices*per, stored, lost, dupReadings)
	}
	if len(ids) != wantSums || lostSums != 0 || dupSums != 0 {
		t.Fatalf("stream holds %d summaries (%d lost, %d duplicated), want %d once each: %q", len(ids), lostSums, dupSums, wantSums, ids)
	}
	// Drained in order: the summaries that waited follow the first four in outbox order.
	for i, w := range waiting {
		if ids[devices+i] != w.MsgID {
			t.Fatalf("stream order %q, want the outbox order %+v after the first %d", ids, waiting, devices)
		}
	}
}
