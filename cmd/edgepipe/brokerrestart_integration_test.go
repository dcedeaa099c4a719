//go:build integration

package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// connectRetry is the longest wait between MQTT reconnection attempts in the broker
// restart test, and brokerOutage how long the broker stays down: several backoff rounds
// (1 s, then 2 s each), so a client that gave up after a few tries would fail the test.
const (
	connectRetry = 2 * time.Second
	brokerOutage = 15 * time.Second
)

// TestIntegrationBrokerRestart is issue 3's scenario 2: the MQTT broker (a real
// Mosquitto) stops while edgepipe works through a backlog of QoS 1 readings and stays
// down for brokerOutage, several reconnection backoff rounds; edgepipe must keep trying,
// reconnect and resubscribe when it is back, store the rest of the backlog and what is
// published afterwards: every reading exactly once, every closed window's summary in
// the JetStream stream exactly once.
func TestIntegrationBrokerRestart(t *testing.T) {
	began := time.Now()
	const devices, per = 25, 1000
	const total = devices * per
	bin := buildBinary(t)
	dir, mosq, nats := startServers(t)
	site := fmt.Sprintf("brokerrestart%d", time.Now().UnixNano())
	dbPath := filepath.Join(dir, "edgepipe.db")
	env := runEnv(t, mosq, nats, dbPath, site, site)
	streams := syntheticStreams(devices, per, deliveryStep)
	before, after := sliceStreams(streams, 0, 800), sliceStreams(streams, 800, per)

	conf := writeConfig(t, dir, "  client_id: ${EDGEPIPE_CLIENT_ID:-edgepipe-demo}\n", "  connect_retry: "+connectRetry.String()+"\n")
	// A first run creates the persistent session; while edgepipe is down the broker
	// queues the first 800 readings of every stream; the broker stops while edgepipe works
	// through this backlog.
	run, _, _ := startRun(t, bin, conf, env)
	stopRun(t, run)
	sent := publish(t, mosq.mqttURL(), site+"-replay", site, before)
	run, metrics, logs := startRun(t, bin, conf, env)
	// edgepipe takes the backlog at thousands a second: stop the broker as soon as it has
	// taken 1,000 (the metric is quicker to read than the database).
	waitFor(t, 30*time.Second, "1,000 readings received", func() bool {
		return metricValue(t, metrics, "edgepipe_received_total") >= 1000
	})
	mosq.stop()
	atStop := storedCount(t, dbPath)
	if atStop >= int64(sent) {
		t.Fatalf("stored %d of %d before the broker stopped; the test wants the stop mid-stream", atStop, sent)
	}

	// The outage: edgepipe must go on retrying for ever, with backoff.
	down := time.Now()
	reconnecting := logs.count("mqtt reconnecting")
	time.Sleep(brokerOutage)
	if got := metricValue(t, metrics, `edgepipe_connected{connector="mqtt"}`); got != 0 {
		t.Errorf("edgepipe_connected{connector=\"mqtt\"} = %v during the outage, want 0", got)
	}
	attempts := logs.count("mqtt reconnecting") - reconnecting
	if attempts < 5 {
		t.Errorf("%d reconnection attempts in the %v outage, want ≥ 5 (backoff up to %v, retried for ever)", attempts, brokerOutage, connectRetry)
	}
	// What edgepipe had taken before the stop is committed during the outage, but its
	// acks die with the connection: the broker redelivers it (counted as duplicates).
	duringOutage := storedCount(t, dbPath)
	mosq.start()
	up := time.Now()
	waitFor(t, 3*connectRetry+10*time.Second, "edgepipe to resubscribe after the broker came back",
		func() bool { return logs.count("mqtt subscribed") >= 2 })
	resubscribed := time.Since(up)

	// After: the rest of every stream (200 readings each), published once edgepipe is
	// subscribed again.
	sent += publish(t, mosq.mqttURL(), site+"-replay", site, after)
	waitStored(t, 60*time.Second, total, dbPath)
	recovery := time.Since(up)
	waitFor(t, 30*time.Second, "an empty outbox", func() bool { return dbCounts(t, dbPath).Outbox == 0 })
	if got := metricValue(t, metrics, `edgepipe_connected{connector="mqtt"}`); got != 1 {
		t.Errorf("edgepipe_connected{connector=\"mqtt\"} = %v after the broker came back, want 1", got)
	}
	redelivered := metricValue(t, metrics, "edgepipe_duplicates_total")
	stopRun(t, run)

	if sent != total {
		t.Fatalf("the broker acknowledged %d publishes, want %d", sent, total)
	}
	stored, lost, dup := readingsOnce(t, streams, dbPath)
	t.Logf("scenario 2: sent %d, stored %d, lost %d, duplicated %d, recovery %.1fs (broker stopped at %d stored, %d stored while down %.1fs, %d reconnection attempts, resubscribed %.1fs after restart, %.0f redeliveries stored once; test %.1fs)",
		sent, stored, lost, dup, recovery.Seconds(), atStop, duringOutage, up.Sub(down).Seconds(), attempts, resubscribed.Seconds(), redelivered, time.Since(began).Seconds())
	if stored != total || lost != 0 || dup != 0 {
		t.Errorf("scenario 2: stored %d, lost %d, duplicated %d; want %d readings each exactly once", stored, lost, dup, total)
	}
	if c := dbCounts(t, dbPath); c.DeadLetters != 0 || c.Outbox != 0 {
		t.Errorf("scenario 2: %d dead letters, %d summaries left in the outbox; want 0 and 0", c.DeadLetters, c.Outbox)
	}
	checkDailySummaries(t, 2, dbPath, nats.natsURL(), site, streams)
}
