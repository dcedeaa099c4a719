package embedded

import (
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestStartMQTTTwiceOnFreePorts(t *testing.T) {
	// Hold 1883 if we can, to show the broker does not depend on the default port.
	if l, err := net.Listen("tcp", "127.0.0.1:1883"); err == nil {
		defer l.Close()
	}
	a, err := StartMQTT("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := StartMQTT("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.URL() == b.URL() {
		t.Fatalf("both brokers on %s", a.URL())
	}
	for _, br := range []*MQTTBroker{a, b} {
		if !strings.HasPrefix(br.URL(), "tcp://127.0.0.1:") || strings.HasSuffix(br.URL(), ":0") || strings.HasSuffix(br.URL(), ":1883") {
			t.Fatalf("URL() = %q, want tcp://127.0.0.1:<free port>", br.URL())
		}
		roundTrip(t, br.URL())
		if d := br.Dropped(); d != 0 {
			t.Fatalf("Dropped() = %d, want 0", d)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// roundTrip publishes one QoS 1 message anonymously and receives it.
func roundTrip(t *testing.T, url string) {
	t.Helper()
	got := make(chan string, 1)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("rt"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", url, tok.Error())
	}
	defer c.Disconnect(0)
	tok := c.Subscribe("t/+", 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() + " " + string(m.Payload()) })
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if tok := c.Publish("t/1", 1, false, "hello"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case m := <-got:
		if m != "t/1 hello" {
			t.Fatalf("received %q, want %q", m, "t/1 hello")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message not received")
	}
}

func TestStartMQTTRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "nohost"} {
		if b, err := StartMQTT(addr); err == nil {
			b.Close()
			t.Errorf("StartMQTT(%q) succeeded, want an error", addr)
		}
	}
	b, err := StartMQTT("localhost:0")
	if err != nil {
		t.Fatalf("localhost: %v", err)
	}
	b.Close()
}

// Beyond localhost the embedded broker requires authentication: StartMQTTAuth accepts
// only its user name and password, and refuses to start without them.
func TestStartMQTTAuthRequiresCredentials(t *testing.T) {
	if _, err := StartMQTTAuth("0.0.0.0:0", "gw", ""); err == nil {
		t.Fatal("StartMQTTAuth without a password succeeded")
	}
	b, err := StartMQTTAuth("0.0.0.0:0", "gw", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	url := b.URL()
	if host, _, _ := net.SplitHostPort(strings.TrimPrefix(url, "tcp://")); host != "127.0.0.1" {
		t.Fatalf("URL() = %q: a broker on every interface should be reached at 127.0.0.1", url)
	}
	connect := func(user, password string) error {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("auth-" + user + password).
			SetUsername(user).SetPassword(password).SetConnectRetry(false).SetAutoReconnect(false))
		tok := c.Connect()
		if !tok.WaitTimeout(5 * time.Second) {
			t.Fatalf("connect %s: no answer", user)
		}
		if tok.Error() == nil {
			c.Disconnect(0)
		}
		return tok.Error()
	}
	if err := connect("gw", "s3cret"); err != nil {
		t.Fatalf("the configured user was refused: %v", err)
	}
	for _, c := range [][2]string{{"", ""}, {"gw", "wrong"}, {"other", "s3cret"}} {
		if err := connect(c[0], c[1]); err == nil {
			t.Errorf("user %q password %q was accepted", c[0], c[1])
		}
	}
}
