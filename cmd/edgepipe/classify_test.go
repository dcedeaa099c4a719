package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"gonum.org/v1/gonum/mat"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	natsconn "github.com/edgepipe/edgepipe/connectors/nats"
	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
)

// classifyRun is a shipped classifier config (configs/occupancy.yaml, configs/mnist.yaml)
// running in this process against an embedded MQTT broker and NATS server, with the
// ${…} variables pointing at them and at a temporary database.
type classifyRun struct {
	mqttURL, natsURL, db, site string
	metrics                    *pipeline.Metrics
	committed, summaries       atomic.Int64
	cancel                     context.CancelFunc
	done                       chan error
}

// startClassifier starts the embedded servers and the pipeline of configs/<name>.yaml
// with close_on_drain and the extra variables vars (e.g. EDGEPIPE_MODEL), and returns
// once its MQTT source is subscribed.
func startClassifier(t *testing.T, name string, vars map[string]string) *classifyRun {
	t.Helper()
	broker, ns, tmp := startEmbedded(t)
	r := &classifyRun{mqttURL: broker.URL(), natsURL: ns.URL(), db: filepath.Join(tmp, name+".db"), site: "test-" + name,
		metrics: pipeline.NewMetrics(), done: make(chan error, 1)}
	env := map[string]string{"EDGEPIPE_MQTT_URL": r.mqttURL, "EDGEPIPE_NATS_URL": r.natsURL, "EDGEPIPE_DB": r.db,
		"EDGEPIPE_SITE": r.site, "EDGEPIPE_CLOSE_ON_DRAIN": "true", "EDGEPIPE_CLIENT_ID": "test-" + name}
	for k, v := range vars {
		env[k] = v
	}
	file := filepath.Join("..", "..", "configs", name+".yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.ParseEnv(file, data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Build(cfg, pipeline.Env{Dir: filepath.Dir(file), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: r.metrics,
		Hooks: pipeline.Hooks{
			Committed:  func(recs []*pipeline.Record, dup int) { r.committed.Add(int64(len(recs) + dup)) },
			Summarized: func(s []pipeline.Summary) { r.summaries.Add(int64(len(s))) },
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	select {
	case <-p.Ready():
	case err := <-r.done:
		r.done <- err
		t.Fatalf("pipeline: %v", err)
	}
	return r
}

// publish plays n messages into the broker as fast as it acknowledges them.
func (r *classifyRun) publish(t *testing.T, clientID string, n int, msg func(int, time.Time) mqttconn.Message) {
	t.Helper()
	stats, err := mqttconn.Publish(context.Background(), mqttconn.ReplayOptions{URL: r.mqttURL, ClientID: clientID, QoS: 1}, n, msg)
	if err != nil || stats.Published != n {
		t.Fatalf("published %d of %d: %v", stats.Published, n, err)
	}
}

// stop waits until want records are committed, then drains the pipeline (closing every
// window and forwarding the summaries) and returns the summaries JetStream holds.
func (r *classifyRun) stop(t *testing.T, want int64) []pipeline.Summary {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d records committed", want), func() bool { return r.committed.Load() >= want })
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.done <- nil // for the cleanup
	nc, err := natsconn.Connect(r.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var sums []pipeline.Summary
	err = natsconn.Subscribe(ctx, nc, natsconn.SubscribeOptions{Stream: natsconn.DefaultStream, Subject: "edgepipe." + r.site + ".>", DeliverAll: true},
		func(m natsconn.Received) error {
			if m.Err != nil {
				t.Errorf("%s: %v", m.Subject, m.Err)
			}
			if sums = append(sums, m.Summary); int64(len(sums)) == r.summaries.Load() {
				cancel()
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(sums)) != r.summaries.Load() || len(sums) == 0 {
		t.Fatalf("received %d summaries over NATS, the pipeline wrote %d", len(sums), r.summaries.Load())
	}
	return sums
}

// checkLabelCounts checks that every summary's label counts add up to its scored
// readings, which are all its readings, and returns the readings over all summaries.
func checkLabelCounts(t *testing.T, sums []pipeline.Summary, classes []string) int {
	t.Helper()
	total := 0
	for _, s := range sums {
		n := 0
		for label, c := range s.Labels {
			if !slices.Contains(classes, label) || c <= 0 {
				t.Errorf("%s window %d: label %q counted %d", s.Device, s.StartMs, label, c)
			}
			n += c
		}
		if n != s.Scored || s.Scored != s.Count {
			t.Errorf("%s window %d: label counts add up to %d, scored %d, count %d", s.Device, s.StartMs, n, s.Scored, s.Count)
		}
		total += s.Count
	}
	return total
}

// meanBatch is the mean number of rows per inference batch so far.
func meanBatch(t *testing.T, m *pipeline.Metrics) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.BatchSize.Write(&out); err != nil {
		t.Fatal(err)
	}
	h := out.GetHistogram()
	if h.GetSampleCount() == 0 {
		return 0
	}
	return h.GetSampleSum() / float64(h.GetSampleCount())
}

// storedRows reads every stored reading.
func storedRows(t *testing.T, path string) []store.Inference {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []store.Inference
	if err := db.Inferences(context.Background(), store.QueryOptions{}, func(inf store.Inference) error {
		rows = append(rows, inf)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return rows
}

// deadReasons reads every dead letter's reason, sorted.
func deadReasons(t *testing.T, path string) []string {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var reasons []string
	if err := db.DeadLetters(context.Background(), 0, func(d store.DeadLetter) error {
		reasons = append(reasons, d.Reason)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(reasons)
	return reasons
}

// predictions returns the model's class index for each row of x and whether the top
// two outputs are within 1e-4 of each other (a near tie, which float32 rounding in a
// different batch may flip).
func predictions(m *models.Dense, x [][]float64) (classes []int, tie []bool) {
	for _, row := range x {
		out := mat.NewDense(1, m.OutputWidth(), nil)
		m.Predict(mat.NewDense(1, len(row), row), out)
		o := out.RawRowView(0)
		best := models.ArgMax(o)
		second := math.Inf(-1)
		for j, v := range o {
			if j != best && v > second {
				second = v
			}
		}
		classes = append(classes, best)
		tie = append(tie, o[best]-second < 1e-4)
	}
	return classes, tie
}
