package embedded

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// A persistent session's unacknowledged messages are resent in the order they were first
// sent [MQTT-4.6.0-1], even when they all arrived within one second (mochi alone resends
// them in map order). Two reconnects in a row keep the order, and messages arriving after
// a reconnect come after the resent ones.
func TestResendInPublishOrder(t *testing.T) {
	b, err := StartMQTT("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 300
	// connect subscribes with a persistent session and acknowledges nothing; it returns the
	// client and the channel of message numbers in the order received.
	connect := func() (paho.Client, chan int) {
		got := make(chan int, 2*n)
		c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("order").SetCleanSession(false).
			SetAutoAckDisabled(true).SetOrderMatters(true).SetAutoReconnect(false).
			SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
				k, _ := strconv.Atoi(string(m.Payload()))
				got <- k
			}))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		return c, got
	}
	read := func(got chan int, want int) []int {
		var ks []int
		for len(ks) < want {
			select {
			case k := <-got:
				ks = append(ks, k)
			case <-time.After(5 * time.Second):
				t.Fatalf("received %d of %d messages", len(ks), want)
			}
		}
		return ks
	}
	inOrder := func(ks []int, from int) error {
		for i, k := range ks {
			if k != from+i {
				return fmt.Errorf("message %d is number %d, want %d (received %v…)", i, k, from+i, ks[:min(len(ks), 20)])
			}
		}
		return nil
	}

	sub, got := connect()
	if tok := sub.Subscribe("o/+", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("order-pub"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	defer pub.Disconnect(0)
	publish := func(from, to int) {
		for k := from; k < to; k++ {
			if tok := pub.Publish("o/"+strconv.Itoa(k%7), 1, false, strconv.Itoa(k)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
	}
	publish(0, n)
	if err := inOrder(read(got, n), 0); err != nil {
		t.Fatalf("live delivery: %v", err)
	}
	for round := 1; round <= 2; round++ {
		sub.Disconnect(0)
		sub, got = connect()
		if err := inOrder(read(got, n), 0); err != nil {
			t.Fatalf("resend after reconnect %d: %v", round, err)
		}
	}
	publish(n, n+10)
	if err := inOrder(read(got, 10), n); err != nil {
		t.Fatalf("new messages after the resend: %v", err)
	}
	sub.Disconnect(0)
	sub, got = connect()
	defer sub.Disconnect(0)
	if err := inOrder(read(got, n+10), 0); err != nil {
		t.Fatalf("resend of old and new messages: %v", err)
	}
}
