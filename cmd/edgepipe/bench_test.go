package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/pipeline"
)

// TestBenchSensorsPlayNABValues checks the simulated sensors: they take turns, each
// plays its stream's values in file order from its offset, one reading every 5 minutes
// of event time from 2024-01-01.
func TestBenchSensorsPlayNABValues(t *testing.T) {
	streams, err := datasets.ReadNABDir("")
	if err != nil {
		t.Fatal(err)
	}
	n := len(streams) + 1 // the first stream is played by two sensors
	s := newBenchSensors(streams, n, "root")
	if want := streams[0].Name + "-001"; s.devices[n-1] != want || s.topics[n-1] != "root/"+want+"/reading" {
		t.Fatalf("sensor %d: device %q topic %q, want %q", n-1, s.devices[n-1], s.topics[n-1], want)
	}
	rows := len(streams[0].Values)
	for _, c := range []struct {
		k, sensor int
		ts        time.Time
		value     float64
	}{
		{0, 0, benchEpoch, streams[0].Values[0]},
		{1, 1, benchEpoch, streams[1].Values[0]},
		{n - 1, n - 1, benchEpoch, streams[0].Values[rows/2]}, // the second copy starts halfway
		{n, 0, benchEpoch.Add(5 * time.Minute), streams[0].Values[1]},
		{2*n - 1, n - 1, benchEpoch.Add(5 * time.Minute), streams[0].Values[rows/2+1]},
		{rows * n, 0, benchEpoch.Add(time.Duration(rows) * 5 * time.Minute), streams[0].Values[0]}, // looped
	} {
		sensor, ts, v := s.reading(c.k)
		if sensor != c.sensor || !ts.Equal(c.ts) || v != c.value {
			t.Errorf("reading %d: sensor %d at %v value %v, want sensor %d at %v value %v", c.k, sensor, ts, v, c.sensor, c.ts, c.value)
		}
	}
	if got, want := string(benchPayload(benchEpoch.Add(time.Second), 2.5)), `{"ts":1704067201000,"value":2.5}`; got != want {
		t.Errorf("payload %s, want %s", got, want)
	}
}

// TestBenchWireRoundTrip writes worker messages with benchWire and reads them with
// benchChild: the counts, the latency pairing and the batch histogram between two
// snapshots.
func TestBenchWireRoundTrip(t *testing.T) {
	var out bytes.Buffer
	w := newBenchWire(&out)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "b", Buckets: []float64{1, 2, 4, 8}})
	for _, v := range []float64{1, 3, 3} {
		h.Observe(v)
	}
	if err := w.snapshot(h); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	lat := newLatencies()
	published := time.Now().Add(-time.Second)
	lat.publish("a b", t0, published)
	lat.publish("c", t0.Add(time.Minute), published)
	w.ready()
	w.committed([]*pipeline.Record{
		{Device: "a b", Time: t0},
		{Device: "c", Time: t0.Add(time.Minute)},
		{DeadLetter: "decode: bad"},
	}, 2)
	w.summarized(make([]pipeline.Summary, 3))
	for _, v := range []float64{5, 7, 100} {
		h.Observe(v)
	}
	if err := w.snapshot(h); err != nil {
		t.Fatal(err)
	}

	c := &benchChild{lat: lat, ready: make(chan struct{}), snaps: make(chan benchSnapshot, 2), exited: make(chan struct{})}
	c.read(&out)
	if c.err != nil {
		t.Fatal(c.err)
	}
	select {
	case <-c.ready:
	default:
		t.Error("ready not seen")
	}
	if c.stored.Load() != 2 || c.dead.Load() != 1 || c.duplicates.Load() != 2 || c.summaries.Load() != 3 || c.finished() != 3 || c.measured.Load() != 3 {
		t.Errorf("stored %d dead %d duplicates %d summaries %d finished %d measured %d, want 2 1 2 3 3 3",
			c.stored.Load(), c.dead.Load(), c.duplicates.Load(), c.summaries.Load(), c.finished(), c.measured.Load())
	}
	if n := len(lat.samples); n != 2 || lat.percentile(50) < time.Second || lat.percentile(100) > time.Minute {
		t.Errorf("%d latencies, p50 %v max %v: want 2 of about 1 s", n, lat.percentile(50), lat.percentile(100))
	}
	s0, s1 := <-c.snaps, <-c.snaps
	if s0.cpu <= 0 || s1.cpu < s0.cpu {
		t.Errorf("cpu %v then %v, want positive and not decreasing", s0.cpu, s1.cpu)
	}
	buckets, mean := s1.batches.since(s0.batches)
	want := []benchBucket{{"1", 0}, {"2", 0}, {"4", 0}, {"8", 2}, {"+Inf", 1}}
	if !reflect.DeepEqual(buckets, want) || mean != (5+7+100)/3.0 {
		t.Errorf("batches %v mean %v, want %v mean %v", buckets, mean, want, (5+7+100)/3.0)
	}
	if got := batchShares(want); got != "5–8 67%, >8 33%" {
		t.Errorf("batchShares = %q", got)
	}
}

// TestBenchOptionsCheck refuses options that cannot make a run, naming the flag.
func TestBenchOptionsCheck(t *testing.T) {
	ok := benchOptions{rate: "max", sensors: 1, qos: 1, duration: time.Second, backlog: 1}
	if rate, err := ok.check(); err != nil || rate != 0 {
		t.Fatalf("valid options: rate %v, %v", rate, err)
	}
	existing := filepath.Join(t.TempDir(), "e.db")
	if err := os.WriteFile(existing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for flag, change := range map[string]func(*benchOptions){
		"--rate":     func(o *benchOptions) { o.rate = "-5" },
		"--sensors":  func(o *benchOptions) { o.sensors = 0 },
		"--qos":      func(o *benchOptions) { o.qos = 2 },
		"--warmup":   func(o *benchOptions) { o.warmup = -time.Second },
		"--duration": func(o *benchOptions) { o.duration = 0 },
		"--backlog":  func(o *benchOptions) { o.backlog = 0 },
		"--db":       func(o *benchOptions) { o.db = existing },
	} {
		o := ok
		change(&o)
		if _, err := o.check(); err == nil || !strings.HasPrefix(err.Error(), flag) {
			t.Errorf("%s: error %v, want one naming the flag", flag, err)
		}
	}
}

// TestBenchEmbeddedReport runs a short bench (the edgepipe binary as the worker,
// embedded servers, 4 sensors, a 0.5 s warmup and 3,000 measured readings at 3,000/s,
// QoS 1) and checks that the report's figures agree with each other and with the
// database, and that its JSON holds the same numbers.
func TestBenchEmbeddedReport(t *testing.T) {
	bin := buildBinary(t)
	dbPath := filepath.Join(t.TempDir(), "bench.db")
	var workerLog syncBuffer
	o := benchOptions{exe: bin, model: "../../configs/demo.model", db: dbPath, sensors: 4, rate: "3000", readings: 3000,
		warmup: 500 * time.Millisecond, qos: 1, backlog: 10000, logFormat: "text", logLevel: "warn", workerLog: &workerLog}
	r, err := runBench(context.Background(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("%v\nworker log:\n%s", err, workerLog.String())
	}

	if r.Published < 3000 || r.Committed != r.Published || r.Lost != 0 || r.Duplicates != 0 || r.DeadLetters != 0 {
		t.Errorf("published %d committed %d lost %d duplicates %d dead %d: want ≥ 3000 published, all committed once",
			r.Published, r.Committed, r.Lost, r.Duplicates, r.DeadLetters)
	}
	if n := storedCount(t, dbPath); n != r.Committed {
		t.Errorf("database holds %d readings, the report says %d committed", n, r.Committed)
	}
	s := newBenchSensors(mustStreams(t), 4, "x")
	var bytesIn int64
	for k := range int(r.Published) {
		_, ts, v := s.reading(k)
		bytesIn += int64(len(benchPayload(ts, v)))
	}
	if r.BytesIn != bytesIn {
		t.Errorf("bytes in %d, want %d: the payloads of readings 0…%d", r.BytesIn, bytesIn, r.Published-1)
	}
	if r.Latency.Samples != 3000 || !(0 < r.Latency.P50 && r.Latency.P50 <= r.Latency.P99 && r.Latency.P99 <= r.Latency.Max) {
		t.Errorf("latency %+v: want 3000 samples, 0 < p50 ≤ p99 ≤ max", r.Latency)
	}
	if r.MeasuredReadings < 3000 || r.MeasuredReadings > r.Committed || r.MeasuredSeconds <= 0 ||
		math.Abs(r.ReadingsPerSecond-float64(r.MeasuredReadings)/r.MeasuredSeconds) > 1e-9 {
		t.Errorf("measured %d readings in %v s at %v/s: want ≥ 3000 of %d, the rate their quotient", r.MeasuredReadings, r.MeasuredSeconds, r.ReadingsPerSecond, r.Committed)
	}
	if r.PublishedPerSecond <= 0 || r.PublishedPerSecond > 3000*1.5 {
		t.Errorf("published %v/s, want paced near the target 3000/s, not flat out", r.PublishedPerSecond)
	}
	if r.CPUSeconds <= 0 || math.Abs(r.CPUSecondsPerMillion-r.CPUSeconds/float64(r.MeasuredReadings)*1e6) > 1e-9 {
		t.Errorf("cpu %v s, %v s per million readings: want positive, per million of %d", r.CPUSeconds, r.CPUSecondsPerMillion, r.MeasuredReadings)
	}
	if r.PeakRSSBytes < 1<<20 || r.PeakRSSBytes > 1<<30 {
		t.Errorf("peak RSS %d bytes, want between 1 MiB and 1 GiB", r.PeakRSSBytes)
	}
	var batches uint64
	for _, b := range r.Batches {
		batches += b.Count
	}
	if batches == 0 || r.BatchMean < 1 || r.BatchMean > 64 || float64(batches)*r.BatchMean > float64(r.Committed) {
		t.Errorf("%d batches of mean %v rows: want some, of 1–64 rows (max_batch), no more rows than the %d readings", batches, r.BatchMean, r.Committed)
	}
	// 750 readings a sensor, 5 minutes apart, close two 24 h windows each.
	if r.Summaries < 8 || r.SummariesReceived != r.Summaries || r.SummaryDuplicates != 0 || r.BytesOut <= 0 || r.BytesOut >= r.BytesIn {
		t.Errorf("summaries %d, received %d, duplicates %d, bytes out %d (in %d): want ≥ 8, all received once, fewer bytes out than in",
			r.Summaries, r.SummariesReceived, r.SummaryDuplicates, r.BytesOut, r.BytesIn)
	}

	var js bytes.Buffer
	if err := r.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back benchReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("JSON round trip differs:\n%+v\n%+v", back, *r)
	}
	var table bytes.Buffer
	r.print(&table)
	for _, want := range []string{"QoS 1, 4 sensors, 3,000 readings/s", thousands(r.ReadingsPerSecond) + " readings/s sustained",
		fmt.Sprintf("p99 %.1f ms", r.Latency.P99), "lost 0"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// BenchmarkBenchWireCommitted is the worker's cost of reporting a committed transaction
// of 64 readings: the bench's own overhead on the edgepipe process it measures.
func BenchmarkBenchWireCommitted(b *testing.B) {
	w := newBenchWire(io.Discard)
	recs := make([]*pipeline.Record, 64)
	for i := range recs {
		recs[i] = &pipeline.Record{Device: "machine_temperature_system_failure-007", Time: benchEpoch.Add(time.Duration(i) * benchStep)}
	}
	for b.Loop() {
		w.committed(recs, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/reading")
}

func mustStreams(t *testing.T) []datasets.Stream {
	t.Helper()
	s, err := datasets.ReadNABDir("")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// syncBuffer is a bytes.Buffer safe for the worker's stderr copier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
