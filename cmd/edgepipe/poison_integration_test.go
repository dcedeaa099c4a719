//go:build integration

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepipe/edgepipe/connectors/store"
)

// TestIntegrationPoisonMessages (scenario 9): on one topic, good readings alternate with
// poison (truncated JSON, hostile msgpack dd ff ff ff ff, a 1 MiB payload, a reading whose
// only value is a NaN literal, stamped 1970 so it also lands behind the watermark).
// Every good reading is stored, every poison message is one dead letter with a reason,
// and all are acked: a restart with the same session receives nothing again.
func TestIntegrationPoisonMessages(t *testing.T) {
	bin := buildBinary(t)
	dir, mq, ns := startServers(t)
	dbPath := filepath.Join(dir, "s9.db")
	env := runEnv(t, mq, ns, dbPath, "s9", "sensors")
	run, _, _ := startRun(t, bin, demoConfig, env)

	// Each round's poison differs (the store keeps one dead letter per distinct payload).
	poisonRound := func(r int) [][]byte {
		return [][]byte{
			fmt.Appendf(nil, `{"ts": %d, "value": `, r),                                // truncated JSON
			{0xdd, 0xff, 0xff, 0xff, 0xff, byte(r)},                                    // msgpack array32 claiming 4 G elements
			fmt.Appendf(nil, `{"ts": %d, "pad": "%s"}`, r, strings.Repeat("x", 1<<20)), // 1 MiB
			fmt.Appendf(nil, `{"ts": %d, "value": NaN}`, r),                            // NaN literal: missing, so "clean: every field missing"
		}
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(mq.mqttURL()).SetClientID("s9-pub"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	defer c.Disconnect(0)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	good, sent := 0, 0
	began := time.Now()
	for round := 0; round < 25; round++ {
		for _, p := range poisonRound(round) {
			for _, payload := range [][]byte{fmt.Appendf(nil, `{"ts": %d, "value": %d}`, t0.Add(time.Duration(good)*time.Minute).UnixMilli(), good%7), p} {
				if tok := c.Publish("sensors/dev-p/reading", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					t.Fatalf("publish: %v", tok.Error())
				}
				sent++
			}
			good++
		}
	}
	bad := sent - good
	waitCounts := func() store.Counts {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if c := dbCounts(t, dbPath); c.Inferences+c.DeadLetters >= int64(sent) {
				return c
			}
		}
		return dbCounts(t, dbPath)
	}
	first := waitCounts()
	elapsed := time.Since(began)
	stopRun(t, run)

	// Every dead letter has a reason, one per poison kind.
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	db.DeadLetters(context.Background(), 0, func(dl store.DeadLetter) error {
		if dl.Reason == "" {
			t.Errorf("dead letter %d has no reason", dl.ID)
		}
		reasons[dl.Reason[:min(len(dl.Reason), 40)]]++
		return nil
	})
	db.Close()
	t.Logf("dead-letter reasons: %v", reasons)

	// After a restart nothing is redelivered: everything was acked.
	run, metrics, _ := startRun(t, bin, demoConfig, env)
	time.Sleep(3 * time.Second)
	received := metricValue(t, metrics, "edgepipe_received_total")
	stopRun(t, run)
	after := dbCounts(t, dbPath)

	stored, lost, dup := int(first.Inferences), good-int(first.Inferences), 0
	if lost < 0 {
		lost, dup = 0, -lost
	}
	t.Logf("scenario 9: sent %d (%d good, %d poison), stored %d, lost %d, duplicated %d, recovery 0s (dead letters %d, in %.1fs; after restart received %.0f, dead letters %d)",
		sent, good, bad, stored, lost, dup, first.DeadLetters, elapsed.Seconds(), received, after.DeadLetters)
	if lost != 0 || dup != 0 || first.DeadLetters != int64(bad) {
		t.Fatalf("stored %d of %d good, %d dead letters of %d poison", stored, good, first.DeadLetters, bad)
	}
	if received != 0 || after != first {
		t.Fatalf("after restart: received %.0f, counts %+v, want 0 and %+v", received, after, first)
	}
}
