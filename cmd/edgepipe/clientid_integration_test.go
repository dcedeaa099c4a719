//go:build integration

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIntegrationClientIDInUse (scenario 7): a second `edgepipe run` with the client id of
// a running one fails at start with an error naming the id, and the first goes on
// undisturbed; after kill -9 of the first, a restart with the same id starts (the broker
// fires its Last Will "offline") and stores what was published meanwhile.
func TestIntegrationClientIDInUse(t *testing.T) {
	bin := buildBinary(t)
	dir, mq, ns := startServers(t)
	dbPath := filepath.Join(dir, "s7.db")
	env := runEnv(t, mq, ns, dbPath, "s7", "sensors")
	first, _, _ := startRun(t, bin, demoConfig, env)

	// The second instance: same client id, its own database.
	began := time.Now()
	second := exec.Command(bin, "run", "-c", demoConfig)
	second.Env = append(append(os.Environ(), env...), "EDGEPIPE_DB="+filepath.Join(dir, "second.db"))
	out := make(chan []byte, 1)
	var runErr error
	go func() { b, err := second.CombinedOutput(); runErr = err; out <- b }()
	var msg string
	select {
	case b := <-out:
		msg = string(b)
	case <-time.After(90 * time.Second):
		second.Process.Kill()
		t.Fatal("second instance still running after 90 s")
	}
	refusal := time.Since(began)
	var ee *exec.ExitError
	if !errors.As(runErr, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("second instance exited with %v, want a failure; output:\n%s", runErr, msg)
	}
	if !strings.Contains(msg, `client id "edgepipe-s7"`) || !strings.Contains(msg, "another running edgepipe") {
		t.Fatalf("second instance's error does not name the client id:\n%s", msg)
	}
	t.Logf("second instance refused after %.1fs: %s", refusal.Seconds(), lastLine(msg))

	// The first instance was not disturbed: it stores everything.
	part1 := syntheticStreams(4, 250, time.Minute)
	sent := publish(t, mq.mqttURL(), "s7-pub-1", "sensors", part1)
	waitStored(t, 60*time.Second, int64(sent), dbPath)

	// kill -9, publish while it is down, restart with the same id.
	first.Process.Kill()
	first.Wait()
	killed := time.Now()
	part2 := syntheticStreams(4, 500, time.Minute) // the first 250 of each device again, and 250 new
	sent += publish(t, mq.mqttURL(), "s7-pub-2", "sensors", part2)
	restarted, _, _ := startRun(t, bin, demoConfig, env)
	recovery := time.Since(killed)
	waitStored(t, 60*time.Second, 2000, dbPath)
	stopRun(t, restarted)

	stored, lost, dup := readingsOnce(t, part2, dbPath)
	t.Logf("scenario 7: sent %d, stored %d, lost %d, duplicated %d, recovery %.1fs (second instance refused in %.1fs)",
		sent, stored, lost, dup, recovery.Seconds(), refusal.Seconds())
	if lost != 0 || dup != 0 || stored != 2000 {
		t.Fatalf("lost %d, duplicated %d, stored %d of 2000 distinct readings", lost, dup, stored)
	}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
