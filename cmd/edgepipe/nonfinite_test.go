package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/vmihailenco/msgpack/v5"

	natsconn "github.com/edgepipe/edgepipe/connectors/nats"
	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
)

// Non-finite numbers made inside the pipeline, from readings that are finite on the wire:
// device "tiny" has a scaler with std 1e-300, so normalize's z-score overflows; device
// "huge" reads 1e300, whose z-score is finite but whose reconstruction error overflows in
// the model. Through the whole pipeline (embedded MQTT, SQLite, JetStream): every reading
// is stored with its wire values; "tiny" readings are not scored (no model version), no
// score in the database is ±Inf, and no summary carries a non-finite number.
func TestNonFiniteMadeInPreprocessingGoesNowhere(t *testing.T) {
	broker, ns, tmp := startEmbedded(t)

	model, err := models.NewDense([]int{2, 2}, []models.Activation{models.ActLinear}, 1)
	if err != nil {
		t.Fatal(err)
	}
	model.SetMeta(models.Meta{Name: "nf", Kind: models.KindAutoencoder, Features: []string{"value"}, Window: 2,
		Scalers: map[string]models.Scaler{
			"":     {Mean: []float64{0}, Std: []float64{1}},
			"tiny": {Mean: []float64{0}, Std: []float64{1e-300}},
		},
		Thresholds: map[string]float64{"": 100}})
	modelPath, dbPath := filepath.Join(tmp, "nf.model"), filepath.Join(tmp, "nf.db")
	if err := model.Save(modelPath); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`name: nf
site: nf
fields: [value]
input: {type: mqtt, url: %q, topics: ["nf/+/reading"], qos: 1, client_id: nf}
pipeline:
  - {type: decode, format: json, device: "topic:1", time_field: ts, time_unit: ms}
  - {type: normalize, model: %q}
  - {type: window, size: 2}
  - {type: infer, model: %q}
store: {type: sqlite, path: %q}
summarize: {type: tumbling, window: 1h, close_on_drain: true}
output: {type: nats, url: %q, format: msgpack}
`, broker.URL(), modelPath, modelPath, dbPath, ns.URL())
	cfg, err := pipeline.Parse("nf.yaml", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	var committed, summaries atomic.Int64
	p, err := pipeline.Build(cfg, pipeline.Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Hooks: pipeline.Hooks{
		Committed:  func(recs []*pipeline.Record, dup int) { committed.Add(int64(len(recs) + dup)) },
		Summarized: func(s []pipeline.Summary) { summaries.Add(int64(len(s))) },
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- p.Run(ctx) }()
	<-p.Ready()

	values := map[string]float64{"ok": 3, "tiny": 1e10, "huge": 1e300}
	const perDevice = 6
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("nf-pub"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range perDevice {
		for dev, v := range values {
			payload := fmt.Sprintf(`{"ts": %d, "value": %g}`, t0.Add(time.Duration(i)*time.Minute).UnixMilli(), v*float64(i+1))
			if tok := c.Publish("nf/"+dev+"/reading", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
	}
	c.Disconnect(0)
	want := int64(perDevice * len(values))
	waitFor(t, 30*time.Second, "every reading committed", func() bool { return committed.Load() >= want })
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	scored := map[string]int{}
	n := 0
	err = db.Inferences(context.Background(), store.QueryOptions{}, func(inf store.Inference) error {
		n++
		if i := int(inf.Time.Sub(t0) / time.Minute); inf.Values[0] != values[inf.Device]*float64(i+1) {
			t.Errorf("%s at %v: stored value %v, want the wire value %v", inf.Device, inf.Time, inf.Values[0], values[inf.Device]*float64(i+1))
		}
		if math.IsInf(inf.Score, 0) {
			t.Errorf("%s at %v: score %v stored as a number", inf.Device, inf.Time, inf.Score)
		}
		if !math.IsNaN(inf.Score) {
			scored[inf.Device]++
			if inf.Model != model.Meta().Version {
				t.Errorf("%s at %v: scored by model %q, want %q", inf.Device, inf.Time, inf.Model, model.Meta().Version)
			}
		} else if inf.Model != "" {
			t.Errorf("%s at %v: not scored but model %q recorded", inf.Device, inf.Time, inf.Model)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The first reading of each device fills its window of 2; the rest of "ok" are scored.
	if n != int(want) || scored["ok"] != perDevice-1 || scored["tiny"] != 0 || scored["huge"] != 0 {
		t.Fatalf("stored %d (want %d), scored per device %v: want ok %d, tiny 0, huge 0", n, want, scored, perDevice-1)
	}

	nc, err := natsconn.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	got := 0
	err = natsconn.Subscribe(sctx, nc, natsconn.SubscribeOptions{Stream: natsconn.DefaultStream, Subject: "edgepipe.nf.>", DeliverAll: true}, func(m natsconn.Received) error {
		var raw any
		if err := msgpack.Unmarshal(m.Raw, &raw); err != nil {
			t.Errorf("%s: %v", m.Subject, err)
		}
		if path, bad := nonFinite(raw, m.Subject); bad {
			t.Errorf("summary field %s is not finite", path)
		}
		if got++; int64(got) == summaries.Load() {
			scancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != 3 || summaries.Load() != 3 {
		t.Fatalf("received %d summaries, produced %d: want one per device (3)", got, summaries.Load())
	}
}

// nonFinite walks a decoded msgpack value and returns the path of the first NaN or ±Inf.
func nonFinite(v any, path string) (string, bool) {
	switch x := v.(type) {
	case float64:
		return path, math.IsNaN(x) || math.IsInf(x, 0)
	case float32:
		return path, math.IsNaN(float64(x)) || math.IsInf(float64(x), 0)
	case map[string]any:
		for k, e := range x {
			if p, bad := nonFinite(e, path+"."+k); bad {
				return p, true
			}
		}
	case []any:
		for i, e := range x {
			if p, bad := nonFinite(e, fmt.Sprintf("%s[%d]", path, i)); bad {
				return p, true
			}
		}
	}
	return "", false
}
