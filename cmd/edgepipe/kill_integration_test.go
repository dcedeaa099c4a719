//go:build integration

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/pipeline"
)

// deliveryStep is the spacing of the delivery tests' readings (5 min): 288 readings per
// daily window, so 1,000 readings of a device span 3 closed windows (288 each) and an
// open fourth (136), and the summaries are worth checking.
const deliveryStep = 5 * time.Minute

// deliveryStreams returns syntheticStreams(n, per) re-timed to one reading every
// deliveryStep from 2024-01-01 UTC.
func deliveryStreams(n, per int) []datasets.Stream {
	streams := syntheticStreams(n, per)
	for _, s := range streams {
		for i := range s.Times {
			s.Times[i] = s.Times[0].Add(time.Duration(i) * deliveryStep)
		}
	}
	return streams
}

// deliveryWaitFor polls cond every 100 ms until it holds or timeout passes, then fails
// the test naming what it waited for.
func deliveryWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
	}
}

// deliveryWaitStored waits until the inferences table of dbPath has at least n rows.
func deliveryWaitStored(t *testing.T, dbPath string, n int64, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		got := storedCount(t, dbPath)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d stored readings; %d are stored", timeout, n, got)
		}
	}
}

// deliveryWaitOutbox waits until the outbox of dbPath is empty: every summary forwarded.
func deliveryWaitOutbox(t *testing.T, dbPath string) {
	t.Helper()
	deliveryWaitFor(t, 30*time.Second, "an empty outbox", func() bool { return dbCounts(t, dbPath).Outbox == 0 })
}

// deliveryDir creates and returns the folder dir/name for a server's data, with dir and
// its parent (t.TempDir() makes both 0700) opened to other users: Mosquitto started as
// root drops to the mosquitto user, and without access it cannot save its persistence
// file, so a restart would lose the queued messages.
func deliveryDir(t *testing.T, dir, name string) string {
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

// deliveryStoredOnce compares the inferences table with the readings of streams, keyed by
// (device, event time in ms): stored is the number of rows, lost the readings with no
// row, duplicated the rows beyond the first of a key, stray the rows of no sent reading.
func deliveryStoredOnce(t *testing.T, dbPath string, streams []datasets.Stream) (stored, lost, duplicated, stray int) {
	t.Helper()
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := map[string]int{}
	err = db.Inferences(context.Background(), store.QueryOptions{}, func(inf store.Inference) error {
		rows[fmt.Sprintf("%s/%d", inf.Device, inf.Time.UnixMilli())]++
		stored++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]bool{}
	for _, s := range streams {
		for _, ts := range s.Times {
			sent[fmt.Sprintf("%s/%d", s.Name, ts.UnixMilli())] = true
		}
	}
	for k := range sent {
		if rows[k] == 0 {
			lost++
		}
	}
	for k, n := range rows {
		if !sent[k] {
			stray += n
			continue
		}
		duplicated += n - 1
	}
	return stored, lost, duplicated, stray
}

// deliverySummariesOnce compares the summaries table of dbPath with the site's summaries
// in the JetStream stream (by Nats-Msg-Id): missing are the stored summaries not in the
// stream, duplicated the stream messages beyond the first of an id, stray the stream
// messages of no stored summary. It returns the stored summaries too.
func deliverySummariesOnce(t *testing.T, dbPath, natsURL, site string) (sums []pipeline.Summary, missing, duplicated, stray int) {
	t.Helper()
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Summaries(context.Background(), "", func(s pipeline.Summary) error {
		sums = append(sums, s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	inStream := streamSummaries(t, natsURL, site)
	want := map[string]bool{}
	for _, s := range sums {
		id := store.MsgID(s)
		want[id] = true
		if inStream[id] == 0 {
			missing++
		}
	}
	for id, n := range inStream {
		if !want[id] {
			stray += n
			continue
		}
		duplicated += n - 1
	}
	return sums, missing, duplicated, stray
}

// deliveryCheckSummaries asserts that every device of streams (1,000 readings each, one
// per deliveryStep) has exactly its three closed daily windows summarised, 288 readings
// each, and that each of these summaries is in the JetStream stream exactly once.
func deliveryCheckSummaries(t *testing.T, scenario int, dbPath, natsURL, site string, streams []datasets.Stream) {
	t.Helper()
	sums, missing, dup, stray := deliverySummariesOnce(t, dbPath, natsURL, site)
	if want := 3 * len(streams); len(sums) != want {
		t.Errorf("scenario %d: %d summaries stored, want %d (3 closed daily windows per device)", scenario, len(sums), want)
	}
	day := int64(24 * time.Hour / time.Millisecond)
	t0 := streams[0].Times[0].UnixMilli()
	for _, s := range sums {
		if s.Count != 288 || s.EndMs-s.StartMs != day || (s.StartMs-t0)%day != 0 || s.StartMs-t0 > 2*day {
			t.Errorf("scenario %d: summary %s: count %d, window [%d, %d) ms; want 288 readings in one of the first three days",
				scenario, store.MsgID(s), s.Count, s.StartMs, s.EndMs)
		}
	}
	t.Logf("scenario %d: summaries: stored %d, in JetStream missing %d, duplicated %d, stray %d", scenario, len(sums), missing, dup, stray)
	if missing != 0 || dup != 0 || stray != 0 {
		t.Errorf("scenario %d: JetStream stream: %d summaries missing, %d duplicated, %d stray; want each stored summary exactly once",
			scenario, missing, dup, stray)
	}
}

// TestIntegrationKill9 is issue 3's scenario 1: edgepipe is killed with SIGKILL while a
// publisher sends 50,000 QoS 1 readings (50 devices × 1,000) through a real Mosquitto,
// then started again with the same client id (persistent session) and database. Every
// reading must be in inferences exactly once, and every closed window's summary in the
// JetStream stream exactly once (a real nats-server).
func TestIntegrationKill9(t *testing.T) {
	began := time.Now()
	const devices, per, killAt = 50, 1000, 15000
	const total = devices * per
	bin := buildBinary(t)
	dir := t.TempDir()
	mosq := startMosquitto(t, deliveryDir(t, dir, "mosquitto"))
	nats := startNATS(t, deliveryDir(t, dir, "nats"))
	site := fmt.Sprintf("kill%d", time.Now().UnixNano())
	dbPath := filepath.Join(dir, "edgepipe.db")
	env := []string{"EDGEPIPE_MQTT_URL=" + mosq.mqttURL(), "EDGEPIPE_NATS_URL=" + nats.natsURL(), "EDGEPIPE_DB=" + dbPath,
		"EDGEPIPE_SITE=" + site, "EDGEPIPE_CLIENT_ID=edgepipe-" + site, "EDGEPIPE_TOPIC_ROOT=" + site}
	streams := deliveryStreams(devices, per)

	run, _ := startRun(t, bin, env)
	t.Cleanup(func() { run.Process.Kill() }) // after a failed test; a no-op once it has exited
	published := make(chan int, 1)
	go func() {
		st, err := mqttconn.Replay(context.Background(), mqttconn.ReplayOptions{URL: mosq.mqttURL(), ClientID: site + "-replay",
			Topic: site + "/{device}/reading", QoS: 1, Streams: streams})
		if err != nil {
			t.Errorf("replay: %v", err)
		}
		published <- st.Published
	}()
	deliveryWaitStored(t, dbPath, killAt, 60*time.Second)
	if err := run.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	run.Wait()
	atKill := storedCount(t, dbPath)
	if atKill >= total {
		t.Fatalf("stored %d of %d before the kill; the test wants a kill mid-stream", atKill, total)
	}

	restart := time.Now()
	run, metrics := startRun(t, bin, env)
	t.Cleanup(func() { run.Process.Kill() })
	deliveryWaitStored(t, dbPath, total, 90*time.Second)
	recovery := time.Since(restart)
	sent := <-published
	if sent != total {
		t.Fatalf("the broker acknowledged %d publishes, want %d", sent, total)
	}
	deliveryWaitOutbox(t, dbPath)
	afterRestart := metricValue(t, metrics, "edgepipe_stored_total")
	stopRun(t, run)

	stored, lost, dup, stray := deliveryStoredOnce(t, dbPath, streams)
	t.Logf("scenario 1: sent %d, stored %d, lost %d, duplicated %d, recovery %.1fs (killed at %d stored; second run stored %s; test %.1fs)",
		sent, stored, lost, dup, recovery.Seconds(), atKill, afterRestart, time.Since(began).Seconds())
	if stored != total || lost != 0 || dup != 0 || stray != 0 {
		t.Errorf("scenario 1: stored %d, lost %d, duplicated %d, stray %d; want %d readings each exactly once", stored, lost, dup, stray, total)
	}
	if c := dbCounts(t, dbPath); c.DeadLetters != 0 || c.Outbox != 0 {
		t.Errorf("scenario 1: %d dead letters, %d summaries left in the outbox; want 0 and 0", c.DeadLetters, c.Outbox)
	}
	deliveryCheckSummaries(t, 1, dbPath, nats.natsURL(), site, streams)
}
