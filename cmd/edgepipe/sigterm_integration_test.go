//go:build integration

package main

import (
	"context"
	"database/sql"
	"os"
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
	dir := t.TempDir()
	mq := startMosquitto(t, scDir(t, dir, "mosquitto"))
	ns := startNATS(t, filepath.Join(dir, "nats"))
	bin := buildBinary(t)
	b, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(conf, []byte("drain_timeout: "+drain.String()+"\n"+string(b)), 0o644); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "edge.db")
	env := scEnv(t, mq.mqttURL(), ns.natsURL(), dbPath, site)
	streams := syntheticStreams(20, 1000)

	run, _, _ := scStartRun(t, bin, conf, env)
	published := make(chan int, 1)
	go func() { published <- scPublish(t, mq.mqttURL(), site, streams) }()
	scWaitFor(t, 60*time.Second, "2,000 readings stored", func() bool { return storedCount(t, dbPath) >= 2000 })

	ctx, release := context.WithCancel(context.Background())
	locked := make(chan struct{})
	lockDone := make(chan struct{})
	go func() {
		defer close(lockDone)
		holdWriteLock(ctx, t, dbPath, locked)
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
		t.Fatalf("exit took %v with drain_timeout %v", took, drain)
	}
	first := storedCount(t, dbPath)
	sent := <-published

	run, _, _ = scStartRun(t, bin, conf, env)
	recovery := scWaitFor(t, 90*time.Second, "every reading stored", func() bool { return storedCount(t, dbPath) >= int64(sent) })
	stopRun(t, run)
	stored, lost, dup := scReadings(t, dbPath, streams)
	t.Logf("scenario 6: sent %d, stored %d (%d before SIGTERM), lost %d, duplicated %d, exit after SIGTERM %.1fs (drain_timeout %v), recovery %.1fs",
		sent, stored, first, lost, dup, took.Seconds(), drain, recovery.Seconds())
	if lost != 0 || dup != 0 || stored != sent {
		t.Fatalf("lost %d, duplicated %d, stored %d of %d", lost, dup, stored, sent)
	}
}

// holdWriteLock takes the database's write lock from another connection (BEGIN
// EXCLUSIVE), closes locked, and holds it until ctx ends.
func holdWriteLock(ctx context.Context, t *testing.T, dbPath string, locked chan<- struct{}) {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_busy_timeout=30000")
	if err != nil {
		t.Error(err)
		close(locked)
		return
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err == nil {
		defer conn.Close()
		_, err = conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE")
	}
	close(locked)
	if err != nil {
		t.Error(err)
		return
	}
	<-ctx.Done()
	if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		t.Error(err)
	}
}
