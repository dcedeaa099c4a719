//go:build integration

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes on a new folder under dir, unmounted at the
// end of the test. It skips the test when mounting is not permitted (it needs root or
// CAP_SYS_ADMIN; .ci/run runs as root).
func mountTmpfs(t *testing.T, dir string, size int) string {
	t.Helper()
	mnt := filepath.Join(dir, "disk")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v): run as root", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	return mnt
}

// fillDisk writes zeros to path until the file system is full (ENOSPC) and returns the
// bytes written.
func fillDisk(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n := 0
	for {
		m, err := f.Write(buf)
		n += m
		if errors.Is(err, syscall.ENOSPC) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestIntegrationStorageFails fills the disk that holds the database while readings
// flow. edgepipe must stop acking (nothing acked that is not stored), say so (an ERROR
// line and edgepipe_store_healthy 0), and resume by itself once space is freed. Then the
// disk is filled again and edgepipe is killed (kill -9) while its commits fail: the
// readings it had received but not stored were never acked, so the broker redelivers them
// to the restarted process and every reading ends up stored exactly once.
//
// The disk is a 32 MiB tmpfs (a real ENOSPC, "database or disk is full"); 4 devices send
// 1000 readings each before the first failure, 2000 each during it and 2000 each during
// the second: 20,000 readings.
func TestIntegrationStorageFails(t *testing.T) {
	const devices = 4
	began := time.Now()
	tmp, mq, ns := startServers(t)
	disk := mountTmpfs(t, tmp, 32<<20)
	bin := buildBinary(t)
	site := "storagefail" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	dbPath := filepath.Join(disk, "edge.db")
	filler := filepath.Join(disk, "filler")
	env := runEnv(t, mq, ns, dbPath, site, site)
	run, metrics, logs := startRun(t, bin, demoConfig, env)
	streams := syntheticStreams(devices, 5000, time.Minute)

	sent := publish(t, mq.mqttURL(), site+"-replay", site, sliceStreams(streams, 0, 1000))
	waitFor(t, 30*time.Second, "the first 4000 readings stored", func() bool { return storedCount(t, dbPath) == int64(sent) })

	// Failure 1: the disk fills up while 8000 readings arrive.
	filled := fillDisk(t, filler)
	sent += publish(t, mq.mqttURL(), site+"-replay", site, sliceStreams(streams, 1000, 3000))
	waitFor(t, 30*time.Second, "edgepipe_store_healthy 0", func() bool { return metricValue(t, metrics, "edgepipe_store_healthy") == 0 })
	if logs.count("level=ERROR", "store: transaction failed, nothing acked") == 0 {
		t.Fatal("no ERROR line about the failed transaction")
	}
	stuck := storedCount(t, dbPath)
	if stuck >= int64(sent) {
		t.Fatalf("stored %d of %d readings with the disk full: the test wants commits to fail", stuck, sent)
	}
	// Nothing moves while the disk stays full (three backoff rounds at least).
	time.Sleep(3 * time.Second)
	if n := storedCount(t, dbPath); n != stuck || metricValue(t, metrics, "edgepipe_store_healthy") != 0 {
		t.Fatalf("stored %d → %d with the disk full", stuck, n)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	waitFor(t, 40*time.Second, "every reading stored after space is freed", func() bool { return storedCount(t, dbPath) == int64(sent) })
	recovery := time.Since(freed)
	if h := metricValue(t, metrics, "edgepipe_store_healthy"); h != 1 {
		t.Fatalf("edgepipe_store_healthy = %v after recovery, want 1", h)
	}

	// Failure 2: the disk fills up again, and edgepipe is killed while it cannot commit.
	// A clean stop first: SQLite removes the write-ahead log when the last connection
	// closes, so the next run's log must grow, and fails at once on the full disk (a log
	// left at its old size would take commits in place for a while).
	stopRun(t, run)
	run, metrics, logs = startRun(t, bin, demoConfig, env)
	fillDisk(t, filler)
	sent += publish(t, mq.mqttURL(), site+"-replay", site, sliceStreams(streams, 3000, 5000))
	waitFor(t, 30*time.Second, "edgepipe_store_healthy 0 again", func() bool {
		return metricValue(t, metrics, "edgepipe_store_healthy") == 0 && logs.count("level=ERROR", "store: transaction failed") > 0
	})
	unstored := int64(sent) - storedCount(t, dbPath)
	received := metricValue(t, metrics, "edgepipe_received_total")
	run.Process.Kill()
	run.Wait()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	run, _, _ = startRun(t, bin, demoConfig, env)
	waitFor(t, 40*time.Second, "every reading stored after the restart", func() bool { return storedCount(t, dbPath) == int64(sent) })
	recovery2 := time.Since(restarted)
	stopRun(t, run)

	stored, lost, dup := readingsOnce(t, streams, dbPath)
	t.Logf("scenario 4: sent %d, stored %d, lost %d, duplicated %d, recovery %.1fs (disk full: filler %d bytes; resumed %.1fs after space was freed; "+
		"killed with %d readings unstored (of %.0f received by the killed process), all stored %.1fs after the restart; test %.0fs)",
		sent, stored, lost, dup, recovery.Seconds(), filled, recovery.Seconds(), unstored, received, recovery2.Seconds(), time.Since(began).Seconds())
	if sent != devices*5000 || stored != sent || lost != 0 || dup != 0 {
		t.Fatalf("sent %d (want %d), stored %d, lost %d, duplicated %d", sent, devices*5000, stored, lost, dup)
	}
	if unstored == 0 {
		t.Fatal("the kill found nothing unstored: the redelivery path was not exercised")
	}
}
