package mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/edgepipe/edgepipe/datasets"
)

// The shipped datatest.txt rows become JSON objects with the file's values, the time in
// epoch ms and the ground truth; every row of the file round-trips.
func TestOccupancyMessages(t *testing.T) {
	occ, err := datasets.ReadOccupancy(datasets.OccupancyFS, datasets.OccupancyTestFile)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := OccupancyMessages(occ, "rooms/office/climate")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(msg(0, time.Time{}).Payload),
		`{"ts":1422886740000,"temperature":23.7,"humidity":26.272,"light":585.2,"co2":749.2,"humidity_ratio":0.00476416302416414,"occupied":1}`; got != want {
		t.Errorf("row 0: %s\nwant %s", got, want)
	}
	for k := range occ.Values {
		m := msg(k, time.Now())
		var obj map[string]float64
		if err := json.Unmarshal(m.Payload, &obj); err != nil || m.Topic != "rooms/office/climate" {
			t.Fatalf("row %d: topic %s, %v: %s", k, m.Topic, err, m.Payload)
		}
		truth := 0.0
		if occ.Occupied[k] {
			truth = 1
		}
		if obj["ts"] != float64(occ.Times[k].UnixMilli()) || obj[OccupancyTruthKey] != truth || len(obj) != 2+len(datasets.OccupancyFields) {
			t.Fatalf("row %d: %s", k, m.Payload)
		}
		for j, f := range datasets.OccupancyFields {
			if obj[f] != occ.Values[k][j] {
				t.Fatalf("row %d: %s = %v, want %v", k, f, obj[f], occ.Values[k][j])
			}
		}
	}
}

// MNIST images become msgpack maps {"ts": <publish ms>, "px": [pixels], "digit"}, or bare
// arrays of the pixels, with the compact integer encodings (one byte below 128).
func TestMNISTMessages(t *testing.T) {
	img := make([]byte, 784)
	for i := range img {
		img[i] = byte(i * 7 % 256)
	}
	m := datasets.MNIST{Rows: 28, Cols: 28, Images: [][]byte{make([]byte, 784), img}, Labels: []int{3, 8}}
	at := time.UnixMilli(1_700_000_000_123).UTC()
	msg, err := MNISTMessages(m, "cameras/c1/image", false)
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		TS    int64 `msgpack:"ts"`
		PX    []int `msgpack:"px"`
		Digit int   `msgpack:"digit"`
	}
	out := msg(1, at)
	if err := msgpack.Unmarshal(out.Payload, &obj); err != nil || out.Topic != "cameras/c1/image" {
		t.Fatalf("topic %s: %v", out.Topic, err)
	}
	if obj.TS != at.UnixMilli() || obj.Digit != 8 || len(obj.PX) != 784 {
		t.Fatalf("ts %d digit %d, %d pixels", obj.TS, obj.Digit, len(obj.PX))
	}
	for i, p := range obj.PX {
		if p != int(img[i]) {
			t.Fatalf("pixel %d = %d, want %d", i, p, img[i])
		}
	}
	// A blank image: a 3-key map header, "ts" (2+1 bytes) and its int64 (9), "px" (3), the
	// array header (3) and 784 one-byte zeros, "digit" (6) and 3 (1).
	if got, want := len(msg(0, at).Payload), 1+3+9+3+3+784+6+1; got != want {
		t.Errorf("blank image: %d bytes, want %d", got, want)
	}

	bare, err := MNISTMessages(m, "cameras/c1/image", true)
	if err != nil {
		t.Fatal(err)
	}
	var px []int
	if err := msgpack.Unmarshal(bare(1, at).Payload, &px); err != nil || len(px) != 784 || px[1] != 7 || px[783] != 783*7%256 {
		t.Fatalf("bare: %v, %d pixels", err, len(px))
	}
	if !bytes.Equal(bare(0, at).Payload[:3], []byte{0xdc, 0x03, 0x10}) { // array 16 of 784
		t.Errorf("bare header % x, want dc 03 10", bare(0, at).Payload[:3])
	}

	for _, topic := range []string{"", "cameras/+/image", "cameras/#"} {
		if _, err := MNISTMessages(m, topic, false); err == nil || !strings.Contains(err.Error(), "not a valid MQTT topic name") {
			t.Errorf("topic %q: %v", topic, err)
		}
		if _, err := OccupancyMessages(datasets.Occupancy{}, topic); err == nil {
			t.Errorf("occupancy topic %q: no error", topic)
		}
	}
}

// Publish sends n messages in order, built when their turn comes, and reports progress
// and the bytes acknowledged.
func TestPublish(t *testing.T) {
	url := startBroker(t)
	var mu sync.Mutex
	var got []string
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("publish-sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(0)
	if tok := sub.Subscribe("p/#", 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		got = append(got, m.Topic()+" "+string(m.Payload()))
		mu.Unlock()
	}); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	const n = 300
	var last time.Time
	var done int
	stats, err := Publish(context.Background(), ReplayOptions{URL: url, QoS: 1, Progress: func(d, total int) {
		if total != n {
			t.Errorf("progress total %d, want %d", total, n)
		}
		done = d
	}}, n, func(k int, at time.Time) Message {
		if at.Before(last) || at.Location() != time.UTC {
			t.Errorf("message %d built at %v, before the previous %v or not UTC", k, at, last)
		}
		last = at
		return Message{Topic: fmt.Sprintf("p/%d", k%3), Payload: []byte(fmt.Sprint(k))}
	})
	if err != nil || stats.Published != n || done != n {
		t.Fatalf("published %d, progress %d, %v", stats.Published, done, err)
	}
	if want := int64(10 + 90*2 + 200*3); stats.Bytes != want { // "0"…"9", "10"…"99", "100"…"299"
		t.Errorf("%d payload bytes, want %d", stats.Bytes, want)
	}
	deadline := time.Now().Add(wait)
	for {
		mu.Lock()
		c := len(got)
		mu.Unlock()
		if c == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("received %d of %d", len(got), n)
	}
	for k, g := range got {
		if want := fmt.Sprintf("p/%d %d", k%3, k); g != want {
			t.Fatalf("message %d: %q, want %q (in publish order)", k, g, want)
		}
	}
	if _, err := Publish(context.Background(), ReplayOptions{URL: url, QoS: 2}, 1, nil); err == nil {
		t.Error("QoS 2: no error")
	}
}
