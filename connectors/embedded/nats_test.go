package embedded

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestStartNATSRandomPortWithJetStream(t *testing.T) {
	// Hold 4222 if we can, to show the server does not depend on the default port.
	if l, err := net.Listen("tcp", "127.0.0.1:4222"); err == nil {
		defer l.Close()
	}
	s, err := StartNATS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Port() == 4222 || s.Port() <= 0 {
		t.Fatalf("port = %d, want a free non-default port", s.Port())
	}
	if want := "nats://127.0.0.1:" + strconv.Itoa(s.Port()); s.URL() != want {
		t.Fatalf("URL() = %q, want %q", s.URL(), want)
	}
	nc, err := nats.Connect(s.URL(), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// $JS.API.INFO answers only when JetStream is enabled.
	msg, err := nc.Request("$JS.API.INFO", nil, 2*time.Second)
	if err != nil {
		t.Fatalf("JetStream account info: %v", err)
	}
	if strings.Contains(string(msg.Data), `"error"`) {
		t.Fatalf("JetStream not enabled: %s", msg.Data)
	}
}

func TestStartNATSSamePortAfterClose(t *testing.T) {
	dir := t.TempDir()
	s, err := StartNATS(dir)
	if err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	s.Close()
	s2, err := StartNATSPort(dir, port)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Port() != port {
		t.Fatalf("restarted on port %d, want %d", s2.Port(), port)
	}
}

func TestStartNATSEmptyDir(t *testing.T) {
	if _, err := StartNATS(""); err == nil {
		t.Fatal("StartNATS(\"\") succeeded, want an error")
	}
}
