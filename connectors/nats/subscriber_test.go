package natsconn

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/nats-io/nats.go"
)

var errEnough = errors.New("enough")

// collect runs Subscribe until n messages arrived (fn returns errEnough) or waitFor.
func collect(t *testing.T, nc *nats.Conn, opts SubscribeOptions, n int) []Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var got []Received
	err := Subscribe(ctx, nc, opts, func(r Received) error {
		got = append(got, r)
		if len(got) == n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("Subscribe returned %v after %d of %d messages", err, len(got), n)
	}
	return got
}

func TestSubscribeStreamReceivesEachSummaryOnce(t *testing.T) {
	s := startServer(t)
	ob := newMemOutbox()
	var want []pipeline.OutboxEntry
	for i, d := range []string{"d1", "d.2", "d 3", "*"} {
		e := entry(int64(i+1), "plant-1", d, int64(i)*60000)
		want = append(want, e)
		ob.add(e)
	}
	dup := want[1]
	dup.ID = 99
	ob.add(dup) // a resend: the stream drops it, the subscriber must not see it twice
	startForwarder(t, testConfig(s.URL()), ob)
	ob.waitEmpty(t)

	nc, err := Connect(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	opts := DefaultSubscribeOptions()
	opts.DeliverAll = true
	got := collect(t, nc, opts, len(want))
	for i, r := range got {
		e := want[i]
		if r.Err != nil {
			t.Fatalf("msg %d: %v", i, r.Err)
		}
		if r.Subject != Subject("edgepipe", "plant-1", e.Summary.Device) || r.MsgID != e.MsgID || r.ContentType != ContentTypeMsgpack {
			t.Errorf("msg %d: subject %q id %q type %q; want %q %q", i, r.Subject, r.MsgID, r.ContentType,
				Subject("edgepipe", "plant-1", e.Summary.Device), e.MsgID)
		}
		if !reflect.DeepEqual(r.Summary, e.Summary) {
			t.Errorf("msg %d summary\n got %+v\nwant %+v", i, r.Summary, e.Summary)
		}
		if dec, err := DecodeSummary(r.Raw, r.ContentType); err != nil || dec.Device != e.Summary.Device {
			t.Errorf("msg %d raw payload decodes to %+v, %v", i, dec, err)
		}
	}

	// A filter for one device (its exact subject) yields only that device's summary.
	one := collect(t, nc, SubscribeOptions{Stream: DefaultStream, Subject: Subject("edgepipe", "plant-1", "d.2"), DeliverAll: true}, 1)
	if one[0].MsgID != "plant-1/d.2/60000" {
		t.Fatalf("filtered subscription got %q", one[0].MsgID)
	}
}

func TestSubscribeStopsOnCancel(t *testing.T) {
	s := startServer(t)
	startForwarder(t, testConfig(s.URL()), newMemOutbox()) // creates the stream
	nc, js := connect(t, s.URL())
	deadline := time.Now().Add(waitFor)
	for {
		if _, err := js.Stream(context.Background(), DefaultStream); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stream not created")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Subscribe(ctx, nc, DefaultSubscribeOptions(), func(Received) error { return nil }) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Subscribe = %v after cancel, want nil", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Subscribe did not return after cancel")
	}
}

func TestSubscribeMissingStream(t *testing.T) {
	s := startServer(t)
	nc, _ := connect(t, s.URL())
	err := Subscribe(context.Background(), nc, SubscribeOptions{Stream: "NOPE"}, func(Received) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Fatalf("Subscribe to a missing stream = %v, want an error naming it", err)
	}
}

// TestSubscribeCore reads a core NATS subscription fed by a forwarder with jetstream
// off; a payload that is not a summary arrives with Err set.
func TestSubscribeCore(t *testing.T) {
	s := startServer(t)
	nc, _ := connect(t, s.URL())
	pub, _ := connect(t, s.URL())
	got := make(chan Received, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = Subscribe(ctx, nc, SubscribeOptions{}, func(r Received) error { got <- r; return nil })
	}()
	// Publish probes until the subscription is live (core NATS keeps nothing).
	deadline := time.Now().Add(waitFor)
	for probed := false; !probed; {
		if err := pub.Publish("edgepipe.x.summary.probe", []byte("probe")); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-got:
			if r.Err == nil || string(r.Raw) != "probe" {
				t.Fatalf("probe received as %+v, want a decode error", r)
			}
			probed = true
		case <-time.After(20 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("core subscription never received a probe")
			}
		}
	}
	for len(got) > 0 { // late probes
		<-got
	}
	ob := newMemOutbox()
	e := entry(1, "plant-1", "d>1", 0)
	ob.add(e)
	cfg := testConfig(s.URL())
	cfg.jetstream = false
	cfg.format = FormatJSON
	startForwarder(t, cfg, ob)
	ob.waitEmpty(t)
	for {
		select {
		case r := <-got:
			if string(r.Raw) == "probe" {
				continue
			}
			if r.Err != nil || r.MsgID != e.MsgID || r.ContentType != ContentTypeJSON || !reflect.DeepEqual(r.Summary, e.Summary) {
				t.Fatalf("core summary %+v", r)
			}
			return
		case <-time.After(waitFor):
			t.Fatal("no summary on the core subscription")
		}
	}
}
