package mqtt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edgepipe/edgepipe/connectors/embedded"
	"github.com/edgepipe/edgepipe/pipeline"
)

// wait bounds the waits for the source's state: above the 10 s connect timeout, which a
// reconnection attempt that raced a broker's shutdown (TCP accepted, CONNECT never
// answered) sits out before the next attempt.
const wait = 15 * time.Second

func testEnv() *pipeline.Env {
	return &pipeline.Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: pipeline.NewMetrics()}
}

// value reads a gauge or counter.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Gauge != nil {
		return d.GetGauge().GetValue()
	}
	return d.GetCounter().GetValue()
}

func startBroker(t *testing.T) string {
	t.Helper()
	b, err := embedded.StartMQTT("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.URL()
}

func publisher(t *testing.T, url string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("pub-" + t.Name()))
	if tok := c.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func publish(t *testing.T, c paho.Client, topic, payload string) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// running is a Source whose Run goroutine the test controls.
type running struct {
	src    *Source
	out    chan *pipeline.Record
	cancel context.CancelFunc
	errc   chan error
}

func run(t *testing.T, o SourceOptions, env *pipeline.Env, buffer int) *running {
	t.Helper()
	src, err := NewSource(o, env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, out: make(chan *pipeline.Record, buffer), cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- src.Run(ctx, r.out) }()
	return r
}

// stop drains the source (Run returns nil) and closes it.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return after cancel")
	}
	if err := r.src.Close(); err != nil {
		t.Fatal(err)
	}
}

// next returns the next record that is not a readiness probe, acking probes.
func (r *running) next(t *testing.T) *pipeline.Record {
	t.Helper()
	for {
		select {
		case rec := <-r.out:
			if rec.Topic == "probe" {
				rec.Done()
				continue
			}
			return rec
		case <-time.After(wait):
			t.Fatal("no record received")
			return nil
		}
	}
}

// waitSubscribed publishes probes until one arrives, which proves the source's
// subscription is active (it subscribes asynchronously after connecting).
func waitSubscribed(t *testing.T, r *running, pub paho.Client) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		publish(t, pub, "probe", "p")
		select {
		case rec := <-r.out:
			if rec.Topic != "probe" {
				t.Fatalf("record on %q before any was published", rec.Topic)
			}
			rec.Done()
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("source never subscribed")
}

func TestSourceDeliversInPublishOrder(t *testing.T) {
	url := startBroker(t)
	env := testEnv()
	r := run(t, SourceOptions{URL: url, Topics: []string{"sensors/+/reading", "probe"}, QoS: 1, ClientID: "order"}, env, 8)
	pub := publisher(t, url)
	waitSubscribed(t, r, pub)

	const n = 200
	for i := range n {
		publish(t, pub, fmt.Sprintf("sensors/dev%d/reading", i%3), fmt.Sprintf(`{"ts":%d,"value":%d.5}`, 1000+i, i))
	}
	for i := range n {
		rec := r.next(t)
		wantTopic := fmt.Sprintf("sensors/dev%d/reading", i%3)
		wantPayload := fmt.Sprintf(`{"ts":%d,"value":%d.5}`, 1000+i, i)
		if rec.Topic != wantTopic || string(rec.Payload) != wantPayload {
			t.Fatalf("record %d = %s %s, want %s %s", i, rec.Topic, rec.Payload, wantTopic, wantPayload)
		}
		if rec.Received.IsZero() || rec.Received.Location() != time.UTC {
			t.Fatalf("record %d: Received = %v, want a UTC arrival time", i, rec.Received)
		}
		rec.Done()
	}
	if got := value(env.Metrics.Connected.WithLabelValues("mqtt")); got != 1 {
		t.Fatalf("connected gauge = %v, want 1", got)
	}
	if got := value(env.Metrics.Received); got < n+1 {
		t.Fatalf("received counter = %v, want ≥ %d (readings + at least one probe)", got, n+1)
	}
	r.stop(t)
	if got := value(env.Metrics.Connected.WithLabelValues("mqtt")); got != 0 {
		t.Fatalf("connected gauge after Close = %v, want 0", got)
	}
}

// TestSourceRedeliversUnackedOnly proves manual acks and the persistent session: a
// message whose record was not Done is redelivered to the next session with the same
// client id; a message whose record was Done is not.
func TestSourceRedeliversUnackedOnly(t *testing.T) {
	url := startBroker(t)
	o := SourceOptions{URL: url, Topics: []string{"sensors/#", "probe"}, QoS: 1, ClientID: "redeliver"}
	first := run(t, o, testEnv(), 8)
	pub := publisher(t, url)
	waitSubscribed(t, first, pub)

	publish(t, pub, "sensors/a", "acked")
	publish(t, pub, "sensors/b", "not-acked")
	if rec := first.next(t); string(rec.Payload) != "acked" {
		t.Fatalf("first record %q, want acked", rec.Payload)
	} else {
		rec.Done()
	}
	if rec := first.next(t); string(rec.Payload) != "not-acked" {
		t.Fatalf("second record %q, want not-acked", rec.Payload)
	} // deliberately not Done: the process "crashes" before the commit.
	first.stop(t)

	// While the client is offline the broker queues for its session.
	publish(t, pub, "sensors/c", "while-offline")

	second := run(t, o, testEnv(), 8)
	var got []string
	for range 2 {
		rec := second.next(t)
		got = append(got, string(rec.Payload))
		rec.Done()
	}
	publish(t, pub, "sensors/d", "live")
	rec := second.next(t)
	got = append(got, string(rec.Payload))
	rec.Done()
	second.stop(t)

	// The two stored messages may be resent in either order (mochi sorts a session's
	// stored messages by arrival second only); the acked one must not come back.
	set := map[string]bool{got[0]: true, got[1]: true}
	if !set["not-acked"] || !set["while-offline"] || got[2] != "live" {
		t.Fatalf("second session received %q, want not-acked and while-offline (any order), then live", got)
	}
}

// TestSourceBackpressureLosesNothing delivers into an unbuffered channel read only after
// the publisher has finished, so the handler blocks and the backlog waits at the broker.
func TestSourceBackpressureLosesNothing(t *testing.T) {
	url := startBroker(t)
	r := run(t, SourceOptions{URL: url, Topics: []string{"bp/+", "probe"}, QoS: 1, ClientID: "backpressure"}, testEnv(), 0)
	pub := publisher(t, url)
	waitSubscribed(t, r, pub)

	const n = 1000
	toks := make([]paho.Token, n)
	for i := range n {
		toks[i] = pub.Publish(fmt.Sprintf("bp/%d", i%4), 1, false, fmt.Sprint(i))
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(wait) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	for i := range n {
		rec := r.next(t)
		if string(rec.Payload) != fmt.Sprint(i) {
			t.Fatalf("record %d has payload %q", i, rec.Payload)
		}
		rec.Done()
	}
	r.stop(t)
}

func TestSourceRefusedCredentialsFailRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Auth: auth.AuthRules{{Username: "edge", Password: "right", Allow: true}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddListener(listeners.NewNet("t", ln)); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url := "tcp://" + ln.Addr().String()

	src, err := NewSource(SourceOptions{URL: url, Topics: []string{"x"}, QoS: 1, ClientID: "badpw", Username: "edge", Password: "wrong"}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err = src.Run(ctx, make(chan *pipeline.Record))
	// MQTT 3.1.1 lets the broker answer bad credentials with either refusal code.
	if !errors.Is(err, packets.ErrorRefusedNotAuthorised) && !errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) {
		t.Fatalf("Run = %v, want a refused-credentials error", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run retried until the deadline instead of failing at once")
	}

	good := run(t, SourceOptions{URL: url, Topics: []string{"x", "probe"}, QoS: 1, ClientID: "goodpw", Username: "edge", Password: "right"}, testEnv(), 1)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("pub").SetUsername("edge").SetPassword("right"))
	if tok := c.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	waitSubscribed(t, good, c)
	good.stop(t)
}

func TestSourceRetriesUntilBrokerUp(t *testing.T) {
	// Reserve a free port, then free it: nothing listens there yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := run(t, SourceOptions{URL: "tcp://" + addr, Topics: []string{"probe"}, QoS: 1, ClientID: "retry", ConnectRetry: 200 * time.Millisecond}, testEnv(), 1)
	time.Sleep(300 * time.Millisecond) // let at least one attempt fail
	b, err := embedded.StartMQTT(addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	defer b.Close()
	waitSubscribed(t, r, publisher(t, b.URL()))
	r.stop(t)
}
