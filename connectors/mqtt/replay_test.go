package mqtt

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepipe/edgepipe/datasets"
)

func ms(v int64) time.Time { return time.UnixMilli(v).UTC() }

func TestReplayPublishesEveryRowInterleavedAndOrdered(t *testing.T) {
	url := startBroker(t)

	var mu sync.Mutex
	var got []string
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("replay-sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(0)
	tok := sub.Subscribe("sensors/+/reading", 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		got = append(got, m.Topic()+" "+string(m.Payload()))
		mu.Unlock()
	})
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	// Stream b's rows are not in time order in the "file": Replay sorts them.
	a := datasets.Stream{Name: "a", Times: []time.Time{ms(1000), ms(2000), ms(3000)}, Values: []float64{1.5, -2, 3e-7}}
	b := datasets.Stream{Name: "b", Times: []time.Time{ms(10), ms(30), ms(20), ms(40), ms(50)}, Values: []float64{1, 3, 2, math.NaN(), 5}}
	o := DefaultReplayOptions()
	o.URL = url
	o.Streams = []datasets.Stream{a, b}
	var published []string
	o.OnPublish = func(device string, ts, at time.Time) {
		if at.IsZero() {
			t.Errorf("OnPublish at zero time")
		}
		published = append(published, device)
	}
	var lastDone, lastTotal int
	o.Progress = func(done, total int) { lastDone, lastTotal = done, total }

	stats, err := Replay(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Fractional progress i/n with n_a = 3, n_b = 5 (ties to a): a b b a b b a b.
	want := []string{
		`sensors/a/reading {"ts":1000,"value":1.5}`,
		`sensors/b/reading {"ts":10,"value":1}`,
		`sensors/b/reading {"ts":20,"value":2}`,
		`sensors/a/reading {"ts":2000,"value":-2}`,
		`sensors/b/reading {"ts":30,"value":3}`,
		`sensors/b/reading {"ts":40,"value":null}`,
		`sensors/a/reading {"ts":3000,"value":3e-07}`,
		`sensors/b/reading {"ts":50,"value":5}`,
	}
	var bytes int64
	for _, w := range want {
		bytes += int64(len(w) - strings.IndexByte(w, ' ') - 1)
	}
	if stats.Published != 8 || stats.Bytes != bytes {
		t.Fatalf("stats = %+v, want 8 published, %d payload bytes", stats, bytes)
	}
	if strings.Join(published, "") != "abbabbab" {
		t.Fatalf("OnPublish devices %v, want a b b a b b a b", published)
	}
	if lastDone != 8 || lastTotal != 8 {
		t.Fatalf("last Progress(%d, %d), want (8, 8)", lastDone, lastTotal)
	}
	deadline := time.Now().Add(wait)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("received:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReplayRejectsBadOptions(t *testing.T) {
	base := DefaultReplayOptions()
	base.URL = "tcp://127.0.0.1:1"
	cases := map[string]func(o *ReplayOptions){
		"qos 2":        func(o *ReplayOptions) { o.QoS = 2 },
		"negative":     func(o *ReplayOptions) { o.Rate = -1 },
		"scheme":       func(o *ReplayOptions) { o.URL = "http://x:1" },
		"wildcard":     func(o *ReplayOptions) { o.Streams = []datasets.Stream{{Name: "a+b"}} },
		"ragged":       func(o *ReplayOptions) { o.Streams = []datasets.Stream{{Name: "a", Times: []time.Time{ms(1)}}} },
		"unreachable":  func(o *ReplayOptions) {},
		"empty topic?": func(o *ReplayOptions) { o.Topic = "{device}"; o.Streams = []datasets.Stream{{Name: ""}} },
	}
	for name, mod := range cases {
		o := base
		mod(&o)
		if _, err := Replay(context.Background(), o); err == nil {
			t.Errorf("%s: Replay succeeded, want an error", name)
		}
	}
}

func TestReplayStopsWhenCancelled(t *testing.T) {
	url := startBroker(t)
	n := 10000
	s := datasets.Stream{Name: "d", Times: make([]time.Time, n), Values: make([]float64, n)}
	for i := range n {
		s.Times[i] = ms(int64(i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := DefaultReplayOptions()
	o.URL = url
	o.Rate = 1000 // 10 s for everything
	o.Streams = []datasets.Stream{s}
	o.OnPublish = func(_ string, ts, _ time.Time) {
		if ts.UnixMilli() == 20 {
			cancel()
		}
	}
	stats, err := Replay(ctx, o)
	if err != context.Canceled {
		t.Fatalf("Replay = %v, want context.Canceled", err)
	}
	if stats.Published != 21 {
		t.Fatalf("published %d after cancelling at the 21st, want 21", stats.Published)
	}
}
