//go:build integration

package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// peakRSS returns the peak resident set size (VmHWM in /proc/<pid>/status) of pid, in
// bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestIntegrationSlowStore publishes 25,000 readings as fast as Mosquitto takes them
// while another connection holds the database's write lock 3 s out of every 3.1 s for
// 15 s, so that edgepipe's commits crawl. The backlog must stay at the broker:
// edgepipe holds at most a bounded number of received-but-unstored readings, its peak
// RSS stays bounded, and once the lock is gone every reading is stored once.
//
// The bounds. In the process, readings wait in the 7 channels between stages (6
// operators and the store, buffer 1024 each), one transaction (1024), the batcher and
// Mosquitto's in-flight window (max_inflight_messages 1000): about 10,300, so 12,000
// unstored readings in the process would mean the backlog is not at the broker. Peak RSS:
// an idle edgepipe (Go runtime, SQLite, model) measures about 22 MB; 10,000 records of
// about 1 KB (payload, values, the 16-reading window) add about 10 MB, doubled by the
// garbage collector's headroom (GOGC=100): about 50 MB, as measured (49 MB). 150 MB leaves
// room for slower machines' larger batches and would still catch a backlog taken into
// memory (25,000 messages with a blocked goroutine each).
func TestIntegrationSlowStore(t *testing.T) {
	const (
		devices, per = 5, 5000
		maxHeld      = 12000
		maxRSS       = 150 << 20
		slowFor      = 15 * time.Second
	)
	began := time.Now()
	bin := buildBinary(t)
	tmp, mq, ns := startServers(t)
	site := "slowstore" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	dbPath := filepath.Join(tmp, "edge.db")
	run, metrics, logs := startRun(t, bin, demoConfig, runEnv(t, mq, ns, dbPath, site, site))
	startRSS := peakRSS(t, run.Process.Pid)
	streams := syntheticStreams(devices, per, time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), slowFor)
	defer cancel()
	var wg sync.WaitGroup
	cycles := 0
	wg.Go(func() { cycles = holdWriteLock(ctx, t, dbPath, 3*time.Second, 100*time.Millisecond, nil) })
	time.Sleep(200 * time.Millisecond) // the lock is taken before the first reading
	published := make(chan int, 1)
	go func() { published <- publish(t, mq.mqttURL(), site+"-replay", site, streams) }()

	// Sample what edgepipe holds (received, not yet stored) while the store is slow.
	held, receivedAtPublishEnd := 0.0, -1.0
	sent := -1
	for ctx.Err() == nil {
		r, s := metricValue(t, metrics, "edgepipe_received_total"), metricValue(t, metrics, "edgepipe_stored_total")
		held = max(held, r-s)
		select {
		case sent = <-published:
			receivedAtPublishEnd = r
		default:
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	slowStored := storedCount(t, dbPath)
	if sent < 0 {
		sent = <-published // Mosquitto took the readings more slowly than expected
	}
	released := time.Now()
	waitFor(t, 60*time.Second, "every reading stored once the lock is gone", func() bool { return storedCount(t, dbPath) == int64(sent) })
	recovery := time.Since(released)
	peak := peakRSS(t, run.Process.Pid)
	stopRun(t, run)

	stored, lost, dup := readingsOnce(t, streams, dbPath)
	t.Logf("scenario 5: sent %d, stored %d, lost %d, duplicated %d, recovery %.1fs (slow phase %s, %d lock cycles: %d stored in it; "+
		"edgepipe held at most %.0f unstored readings; received %.0f when the publisher finished; peak RSS %.1f MB (%.1f MB at start); store errors %d; test %.0fs)",
		sent, stored, lost, dup, recovery.Seconds(), slowFor, cycles, slowStored, held, receivedAtPublishEnd,
		float64(peak)/(1<<20), float64(startRSS)/(1<<20), logs.count("level=ERROR", "store:"), time.Since(began).Seconds())
	if sent != devices*per || stored != sent || lost != 0 || dup != 0 {
		t.Fatalf("sent %d (want %d), stored %d, lost %d, duplicated %d", sent, devices*per, stored, lost, dup)
	}
	if slowStored >= int64(sent) {
		t.Fatalf("stored all %d readings during the slow phase: the store was not slow", slowStored)
	}
	if held > maxHeld {
		t.Fatalf("edgepipe held %.0f received but unstored readings, want ≤ %d: the backlog is not at the broker", held, maxHeld)
	}
	if peak > maxRSS {
		t.Fatalf("peak RSS %.1f MB, want ≤ %d MB", float64(peak)/(1<<20), maxRSS>>20)
	}
}
