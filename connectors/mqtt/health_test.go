package mqtt

import (
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/connectors/embedded"
)

// TestHealthFollowsConnectionAndSubscription checks the source's readiness through a
// broker outage: not ready before it connects, ready once subscribed, not ready while
// the broker is down, ready again once it has resubscribed; the detail never shows the
// URL's password.
func TestHealthFollowsConnectionAndSubscription(t *testing.T) {
	b, err := embedded.StartMQTT("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(b.URL(), "tcp://")
	url := "tcp://user:hunter2-pw@" + addr
	src, err := NewSource(SourceOptions{URL: url, Topics: []string{"probe"}, QoS: 1, ClientID: "health", ConnectRetry: 100 * time.Millisecond}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if c := src.Health(); c.Name != "mqtt" || c.OK || !strings.HasPrefix(c.Detail, "not connected to tcp://user:xxxxx@") {
		t.Fatalf("before Run: %+v", c)
	}
	r := run(t, SourceOptions{URL: url, Topics: []string{"probe"}, QoS: 1, ClientID: "health", ConnectRetry: 100 * time.Millisecond}, testEnv(), 8)
	waitHealth(t, r.src, true, "and subscribed")
	b.Close()
	waitHealth(t, r.src, false, "not connected")
	b2, err := embedded.StartMQTT(addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	defer b2.Close()
	waitHealth(t, r.src, true, "and subscribed")
	if c := r.src.Health(); strings.Contains(c.Detail, "hunter2-pw") {
		t.Fatalf("the password is in the detail: %q", c.Detail)
	}
	r.stop(t)
	if c := r.src.Health(); c.OK {
		t.Fatalf("after Close: %+v, want not ready", c)
	}
}

// waitHealth polls s.Health until its OK is ok and its detail contains part.
func waitHealth(t *testing.T, s *Source, ok bool, part string) {
	t.Helper()
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		c := s.Health()
		if c.OK == ok && strings.Contains(c.Detail, part) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %+v, want ok %v and %q", c, ok, part)
		}
	}
}
