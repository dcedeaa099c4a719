//go:build integration

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
)

// Helpers of the client-id, shared-subscription and poison scenarios (prefix dv).

// dvEnv is the environment of one `edgepipe run` against mq and ns.
func dvEnv(mq, ns *server, dir, name, topicRoot string) []string {
	return []string{"EDGEPIPE_MQTT_URL=" + mq.mqttURL(), "EDGEPIPE_NATS_URL=" + ns.natsURL(),
		"EDGEPIPE_DB=" + filepath.Join(dir, name+".db"), "EDGEPIPE_SITE=" + name,
		"EDGEPIPE_CLIENT_ID=edgepipe-" + name, "EDGEPIPE_TOPIC_ROOT=" + topicRoot}
}

// dvKeys returns how many stored inferences each (device, event time in ms) has.
func dvKeys(t *testing.T, path string) map[string]int {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := map[string]int{}
	err = db.Inferences(context.Background(), store.QueryOptions{}, func(inf store.Inference) error {
		keys[fmt.Sprintf("%s@%d", inf.Device, inf.Time.UnixMilli())]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// dvLostDup compares the readings of streams with the stored keys of several databases:
// lost = readings in none, duplicated = extra copies (in one database or across them).
func dvLostDup(t *testing.T, streams []datasets.Stream, paths ...string) (stored, lost, dup int) {
	t.Helper()
	all := map[string]int{}
	for _, p := range paths {
		for k, n := range dvKeys(t, p) {
			all[k] += n
			stored += n
		}
	}
	for _, s := range streams {
		for _, ts := range s.Times {
			n := all[fmt.Sprintf("%s@%d", s.Name, ts.UnixMilli())]
			if n == 0 {
				lost++
			} else {
				dup += n - 1
			}
		}
	}
	return stored, lost, dup
}

// dvWaitStored waits until the databases together hold want inferences (or 60 s).
func dvWaitStored(t *testing.T, want int64, paths ...string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var n int64
		for _, p := range paths {
			if _, err := os.Stat(p); err == nil {
				n += storedCount(t, p)
			}
		}
		if n >= want {
			return
		}
	}
}

// dvReplay publishes streams with QoS 1 on <root>/{device}/reading and returns the count.
func dvReplay(t *testing.T, url, clientID string, streams []datasets.Stream) int {
	t.Helper()
	st, err := mqttconn.Replay(context.Background(), mqttconn.ReplayOptions{URL: url, ClientID: clientID,
		Topic: "sensors/{device}/reading", QoS: 1, Streams: streams})
	if err != nil {
		t.Fatal(err)
	}
	return st.Published
}

// TestIntegrationClientIDInUse (scenario 7): a second `edgepipe run` with the client id of
// a running one fails at start with an error naming the id, and the first goes on
// undisturbed; after kill -9 of the first, a restart with the same id starts (the broker
// fires its Last Will "offline") and stores what was published meanwhile.
func TestIntegrationClientIDInUse(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	mq, ns := startMosquitto(t, t.TempDir()), startNATS(t, t.TempDir())
	env := dvEnv(mq, ns, dir, "s7", "sensors")
	dbPath := filepath.Join(dir, "s7.db")
	first, _ := startRun(t, bin, env)

	// The second instance: same client id, its own database.
	began := time.Now()
	second := exec.Command(bin, "run", "-c", "../../configs/demo.yaml")
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
	part1 := syntheticStreams(4, 250)
	sent := dvReplay(t, mq.mqttURL(), "s7-pub-1", part1)
	dvWaitStored(t, int64(sent), dbPath)

	// kill -9, publish while it is down, restart with the same id.
	first.Process.Kill()
	first.Wait()
	killed := time.Now()
	part2 := syntheticStreams(4, 500) // the first 250 of each device again, and 250 new
	sent += dvReplay(t, mq.mqttURL(), "s7-pub-2", part2)
	restarted, _ := startRun(t, bin, env)
	recovery := time.Since(killed)
	dvWaitStored(t, 2000, dbPath)
	stopRun(t, restarted)

	stored, lost, dup := dvLostDup(t, part2, dbPath)
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
