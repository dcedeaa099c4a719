//go:build integration

package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// deliveryStep is the spacing of the readings of the kill and broker restart scenarios
// (5 min): 288 readings per daily window, so 1,000 readings of a device span 3 closed
// windows (288 each) and an open fourth (136), and the summaries are worth checking
// (checkDailySummaries).
const deliveryStep = 5 * time.Minute

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
	dir, mosq, nats := startServers(t)
	site := fmt.Sprintf("kill%d", time.Now().UnixNano())
	dbPath := filepath.Join(dir, "edgepipe.db")
	env := runEnv(t, mosq, nats, dbPath, site, site)
	streams := syntheticStreams(devices, per, deliveryStep)

	run, _, _ := startRun(t, bin, demoConfig, env)
	published := make(chan int, 1)
	go func() { published <- publish(t, mosq.mqttURL(), site+"-replay", site, streams) }()
	waitStored(t, 60*time.Second, killAt, dbPath)
	if err := run.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	run.Wait()
	atKill := storedCount(t, dbPath)
	if atKill >= total {
		t.Fatalf("stored %d of %d before the kill; the test wants a kill mid-stream", atKill, total)
	}

	restart := time.Now()
	run, metrics, _ := startRun(t, bin, demoConfig, env)
	waitStored(t, 90*time.Second, total, dbPath)
	recovery := time.Since(restart)
	sent := <-published
	if sent != total {
		t.Fatalf("the broker acknowledged %d publishes, want %d", sent, total)
	}
	waitFor(t, 30*time.Second, "an empty outbox", func() bool { return dbCounts(t, dbPath).Outbox == 0 })
	afterRestart := metricValue(t, metrics, "edgepipe_stored_total")
	stopRun(t, run)

	stored, lost, dup := readingsOnce(t, streams, dbPath)
	t.Logf("scenario 1: sent %d, stored %d, lost %d, duplicated %d, recovery %.1fs (killed at %d stored; second run stored %.0f; test %.1fs)",
		sent, stored, lost, dup, recovery.Seconds(), atKill, afterRestart, time.Since(began).Seconds())
	if stored != total || lost != 0 || dup != 0 {
		t.Errorf("scenario 1: stored %d, lost %d, duplicated %d; want %d readings each exactly once", stored, lost, dup, total)
	}
	if c := dbCounts(t, dbPath); c.DeadLetters != 0 || c.Outbox != 0 {
		t.Errorf("scenario 1: %d dead letters, %d summaries left in the outbox; want 0 and 0", c.DeadLetters, c.Outbox)
	}
	checkDailySummaries(t, 1, dbPath, nats.natsURL(), site, streams)
}
