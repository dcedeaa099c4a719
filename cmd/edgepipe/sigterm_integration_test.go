//go:build integration

package main

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestIntegrationSIGTERMDrainTimeout is scenario 6 of issue 3: SIGTERM while readings
// flow and the store is stuck (another connection holds the database's write lock).
// edgepipe must give up after its drain_timeout (2 s here) and exit 0, and what it had not
// committed must not have been acked: a second run, with the store free again, gets the
// rest from the broker, and every reading is stored exactly once.
func TestIntegrationSIGTERMDrainTimeout(t *testing.T) {
	const site, drain = "s6", 2 * time.Second
	dir, mq, ns := startServers(t)
	bin := buildBinary(t)
	conf := writeConfig(t, dir, "name: demo\n", "drain_timeout: "+drain.String()+"\n")
	dbPath := filepath.Join(dir, "edge.db")
	env := runEnv(t, mq, ns, dbPath, site, site)
	streams := syntheticStreams(20, 1000, time.Minute)

	run, _, logs := startRun(t, bin, conf, env)
	published := make(chan int, 1)
	go func() { published <- publish(t, mq.mqttURL(), site+"-replay", site, streams) }()
	waitFor(t, 60*time.Second, "2,000 readings stored", func() bool { return storedCount(t, dbPath) >= 2000 })

	ctx, release := context.WithCancel(context.Background())
	locked := make(chan struct{})
	lockDone := make(chan struct{})
	go func() {
		defer close(lockDone)
		holdWriteLock(ctx, t, dbPath, time.Hour, 0, locked) // held until release()
	}()
	<-locked
	time.Sleep(500 * time.Millisecond) // readings pile up behind the lock
	start := time.Now()
	if err := run.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := run.Wait(); err != nil {
		t.Fatalf("edgepipe run after SIGTERM with a stuck store: %v, want exit status 0", err)
	}
	took := time.Since(start)
	release()
	<-lockDone
	if took > drain+8*time.Second {
		t.Fatalf("exit took %v with drain_timeout %v; the end of its log:\n%s", took, drain, logs.tail(40))
	}
	first := storedCount(t, dbPath)
	sent := <-published

	run, _, _ = startRun(t, bin, conf, env)
	recovery := waitFor(t, 90*time.Second, "every reading stored", func() bool { return storedCount(t, dbPath) >= int64(sent) })
	stopRun(t, run)
	stored, lost, dup := readingsOnce(t, streams, dbPath)
	t.Logf("scenario 6: sent %d, stored %d (%d before SIGTERM), lost %d, duplicated %d, exit after SIGTERM %.1fs (drain_timeout %v), recovery %.1fs",
		sent, stored, first, lost, dup, took.Seconds(), drain, recovery.Seconds())
	if lost != 0 || dup != 0 || stored != sent {
		t.Fatalf("lost %d, duplicated %d, stored %d of %d", lost, dup, stored, sent)
	}
}
