//go:build integration

package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// queryOutbox runs `edgepipe query --db dbPath --outbox` and decodes its JSON lines.
func queryOutbox(t *testing.T, bin, dbPath string) []outboxRow {
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
	tmp, mq, ns := startServers(t)
	site := "natsdown" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	dbPath := filepath.Join(tmp, "edge.db")
	conf := writeConfig(t, tmp, "  url: ${EDGEPIPE_NATS_URL:-nats://127.0.0.1:4222}\n", "  retry_max: 5s\n")
	run, metrics, _ := startRun(t, bin, conf, runEnv(t, mq, ns, dbPath, site, site))
	streams := syntheticStreams(devices, per, time.Minute)

	sent := publish(t, mq.mqttURL(), site+"-replay", site, sliceStreams(streams, 0, before))
	waitFor(t, 30*time.Second, "window 0 of every device forwarded", func() bool {
		return metricValue(t, metrics, "edgepipe_summaries_forwarded_total") == devices
	})

	ns.stop()
	down := time.Now()
	waitFor(t, 10*time.Second, "edgepipe_connected{connector=\"nats\"} 0", func() bool {
		return metricValue(t, metrics, `edgepipe_connected{connector="nats"}`) == 0
	})
	sent += publish(t, mq.mqttURL(), site+"-replay", site, sliceStreams(streams, before, per))
	waitFor(t, 40*time.Second, "12 summaries in the outbox", func() bool {
		return metricValue(t, metrics, "edgepipe_outbox_depth") == wantSums-devices
	})
	depth := metricValue(t, metrics, "edgepipe_outbox_depth")
	waiting := queryOutbox(t, bin, dbPath)
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
	waitFor(t, 40*time.Second, "the outbox to drain", func() bool {
		return metricValue(t, metrics, "edgepipe_outbox_depth") == 0 && metricValue(t, metrics, "edgepipe_summaries_forwarded_total") == wantSums
	})
	recovery := time.Since(up)
	waitFor(t, 30*time.Second, "every reading stored", func() bool { return storedCount(t, dbPath) >= int64(sent) })
	stopRun(t, run)

	stored, lost, dupReadings := readingsOnce(t, streams, dbPath)
	var wantIDs []string
	for d := range devices {
		for w := range 4 {
			wantIDs = append(wantIDs, site+"/"+streams[d].Name+"/"+strconv.FormatInt(streams[d].Times[0].Add(time.Duration(w)*24*time.Hour).UnixMilli(), 10))
		}
	}
	ids, lostSums, dupSums, straySums := summariesOnce(t, ns.natsURL(), site, wantIDs)
	t.Logf("scenario 3: sent %d, stored %d, lost %d, duplicated %d, recovery %.1fs (NATS down %.0fs, outbox depth %.0f during the outage, summaries %d in the stream, %d lost, %d duplicated; test %.0fs)",
		sent, stored, lost+lostSums, dupReadings+dupSums, recovery.Seconds(), up.Sub(down).Seconds(), depth, len(ids), lostSums, dupSums, time.Since(began).Seconds())
	if sent != devices*per || stored != sent || lost != 0 || dupReadings != 0 {
		t.Fatalf("readings: sent %d (want %d), stored %d, lost %d, duplicated %d", sent, devices*per, stored, lost, dupReadings)
	}
	if len(ids) != wantSums || lostSums != 0 || dupSums != 0 || straySums != 0 {
		t.Fatalf("stream holds %d summaries (%d lost, %d duplicated, %d stray), want %d once each: %q", len(ids), lostSums, dupSums, straySums, wantSums, ids)
	}
	// Drained in order: the summaries that waited follow the first four in outbox order.
	for i, w := range waiting {
		if ids[devices+i] != w.MsgID {
			t.Fatalf("stream order %q, want the outbox order %+v after the first %d", ids, waiting, devices)
		}
	}
}
