package mqtt

import (
	"errors"
	"testing"
	"time"
)

// A second source with the same client id fails at start (the first one's heartbeat
// proves it is running); after the first stops cleanly, the same id starts at once.
func TestPresenceRefusesSecondHolderOfClientID(t *testing.T) {
	url := startBroker(t)
	o := SourceOptions{URL: url, Topics: []string{"s/+/r"}, QoS: 1, ClientID: "gw-presence", KeepAlive: time.Second, PresenceTopic: DefaultPresenceTopic}
	first := run(t, o, testEnv(), 8)
	select {
	case <-first.src.Ready():
	case <-time.After(wait):
		t.Fatal("first source not ready")
	}
	second := run(t, o, testEnv(), 8)
	select {
	case err := <-second.errc:
		if !errors.Is(err, errClientIDInUse) {
			t.Fatalf("second Run = %v, want a client-id-in-use error", err)
		}
	case <-time.After(2 * presenceWait(o.KeepAlive)):
		t.Fatal("second source did not fail")
	}
	second.src.Close()
	first.stop(t)

	third := run(t, o, testEnv(), 8)
	select {
	case <-third.src.Ready():
	case err := <-third.errc:
		t.Fatalf("after a clean stop, Run = %v", err)
	case <-time.After(wait):
		t.Fatal("third source not ready")
	}
	third.stop(t)
}

func TestPresenceTopicEscapesClientID(t *testing.T) {
	if got := presenceTopic(DefaultPresenceTopic, "site/a+b#"); got != "edgepipe/clients/site_a_b_/status" {
		t.Fatalf("presenceTopic = %q", got)
	}
}
