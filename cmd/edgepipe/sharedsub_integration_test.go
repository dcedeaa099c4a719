//go:build integration

package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIntegrationSharedSubscription (scenario 8): two `edgepipe run` instances on one
// shared subscription $share/s8/sensors/+/reading, each with its own client id, site and
// database. The broker hands each message to one of them: over the two databases every
// reading is stored exactly once. Shared subscriptions distribute messages, not devices,
// so a device's readings land on both instances; the test measures how many devices are
// split (their windows and summaries are per instance: see connectors/mqtt/README.md).
func TestIntegrationSharedSubscription(t *testing.T) {
	bin := buildBinary(t)
	dir, mq, ns := startServers(t)
	pa, pb := filepath.Join(dir, "s8a.db"), filepath.Join(dir, "s8b.db")
	a, _, _ := startRun(t, bin, demoConfig, runEnv(t, mq, ns, pa, "s8a", "$share/s8/sensors"))
	b, _, _ := startRun(t, bin, demoConfig, runEnv(t, mq, ns, pb, "s8b", "$share/s8/sensors"))

	streams := syntheticStreams(9, 500, time.Minute) // an odd count: round-robin does not pin devices
	began := time.Now()
	sent := publish(t, mq.mqttURL(), "s8-pub", "sensors", streams)
	waitStored(t, 60*time.Second, int64(sent), pa, pb)
	elapsed := time.Since(began)
	stopRun(t, a)
	stopRun(t, b)

	stored, lost, dup := readingsOnce(t, streams, pa, pb)
	ka, kb := storedKeys(t, pa), storedKeys(t, pb)
	split := map[string]bool{}
	devA, devB := map[string]bool{}, map[string]bool{}
	for k := range ka {
		devA[strings.Split(k, "@")[0]] = true
	}
	for k := range kb {
		devB[strings.Split(k, "@")[0]] = true
	}
	for d := range devA {
		if devB[d] {
			split[d] = true
		}
	}
	t.Logf("scenario 8: sent %d, stored %d, lost %d, duplicated %d, recovery 0s (instance a stored %d, b %d, in %.1fs; %d of 9 devices split across both)",
		sent, stored, lost, dup, len(ka), len(kb), elapsed.Seconds(), len(split))
	if lost != 0 || dup != 0 {
		t.Fatalf("lost %d, duplicated %d", lost, dup)
	}
	if len(ka) == 0 || len(kb) == 0 {
		t.Fatalf("no split: a stored %d, b %d", len(ka), len(kb))
	}
}
