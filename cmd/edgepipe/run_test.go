package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

// TestRunSIGTERMUnderLoadDrainsAndLosesNothing stops `edgepipe run` with SIGTERM while
// readings are still arriving: it must exit 0 after draining, and what it had not
// committed must not have been acked, so a second run (same persistent session) stores
// the rest: every reading exactly once over the two runs, and the outbox empty.
func TestRunSIGTERMUnderLoadDrainsAndLosesNothing(t *testing.T) {
	bin := buildBinary(t)
	broker, ns, tmp := startEmbedded(t)

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

	run, _, _ := startRun(t, bin, demoConfig, env)
	published := replayAsync(t, broker.URL(), "sigterm-replay", 4000, streams)
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

	run, metrics, _ := startRun(t, bin, demoConfig, env)
	deadline := time.Now().Add(60 * time.Second)
	for storedCount(t, dbPath) < 4032 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// The second run's metrics count what it stored: the rest.
	if got, want := metricValue(t, metrics, "edgepipe_stored_total"), float64(4032-first); got != want {
		t.Errorf("edgepipe_stored_total = %v, want %v", got, want)
	}
	stopRun(t, run)

	if c := dbCounts(t, dbPath); c.Inferences != 4032 || c.DeadLetters != 0 || c.Outbox != 0 {
		t.Fatalf("after two runs: %+v (first run stored %d); want 4032 readings once each, no dead letters, empty outbox", c, first)
	}
}
