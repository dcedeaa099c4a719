//go:build integration

package main

import (
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// TestIntegrationDemoRealServers runs the end-to-end check against a real Mosquitto and
// a real nats-server with JetStream (.ci/run starts them and sets the URLs). The site is
// new for every run, so topics, client ids and subjects never meet an earlier run's.
func TestIntegrationDemoRealServers(t *testing.T) {
	mqtt, nats := os.Getenv("EDGEPIPE_IT_MQTT_URL"), os.Getenv("EDGEPIPE_IT_NATS_URL")
	if mqtt == "" || nats == "" {
		t.Fatal("set EDGEPIPE_IT_MQTT_URL and EDGEPIPE_IT_NATS_URL (see .ci/run)")
	}
	checkDemo(t, demoOptions{mqtt: mqtt, nats: nats, site: fmt.Sprintf("it%d", time.Now().UnixNano())}, io.Discard)
}
