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
// benchChild: the counts, the latency pairing (by device and event time, only readings
// published in the measured window, each once) and the batch histogram between two
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
	t0, t1 := benchEpoch, benchEpoch.Add(benchStep)
	lat := newBenchLatencies(&benchSensors{devices: []string{"a b", "c"}})
	published := time.Now().Add(-time.Second)
	lat.publish(2, published) // "a b" at t1: readings 0 and 1 were the warmup's
	lat.publish(3, published) // "c" at t1
	w.ready()
	w.committed([]*pipeline.Record{
		{Device: "a b", Time: t0}, // reading 0, before the measured window
		{Device: "a b", Time: t1},
		{Device: "c", Time: t1},
		{Device: "x", Time: t1},                  // not a sensor of the bench
		{Device: "c", Time: t0.Add(time.Minute)}, // not a reading of the bench
		{DeadLetter: "decode: bad"},
	}, 2)
	w.committed([]*pipeline.Record{{Device: "a b", Time: t1}}, 0) // paired already
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
	if c.stored.Load() != 6 || c.dead.Load() != 1 || c.duplicates.Load() != 2 || c.summaries.Load() != 3 || c.finished() != 7 || c.measured.Load() != 7 {
		t.Errorf("stored %d dead %d duplicates %d summaries %d finished %d measured %d, want 6 1 2 3 7 7",
			c.stored.Load(), c.dead.Load(), c.duplicates.Load(), c.summaries.Load(), c.finished(), c.measured.Load())
	}
	p := lat.percentiles(50, 100)
	if n := lat.count(); n != 2 || p[0] < time.Second || p[1] > time.Minute {
		t.Errorf("%d latencies, p50 %v max %v: want 2 of about 1 s", n, p[0], p[1])
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

// TestBenchChildReadMessages reads hand-written worker messages: r messages that the
// fast path leaves to the slow one (a sign, no device, a long line) count the same,
// a malformed one stops the reading with an error naming it, and the counts of the
// r messages read before are not lost.
func TestBenchChildReadMessages(t *testing.T) {
	lat := newBenchLatencies(&benchSensors{devices: []string{"d"}})
	lat.publish(0, time.Unix(0, 1000))
	ts := benchEpoch.UnixNano()
	long := strings.Repeat("x", 100<<10)
	in := fmt.Sprintf("c 5000 0 0\nr %d d\nr +%d d\nr 7\nr 8 %s\nr 99999999999999999999 d\nr 1 d\n", ts, ts, long)
	c := &benchChild{lat: lat, ready: make(chan struct{}), snaps: make(chan benchSnapshot, 1), exited: make(chan struct{})}
	c.read(strings.NewReader(in))
	if c.err == nil || !strings.Contains(c.err.Error(), "99999999999999999999") {
		t.Errorf("error %v, want one naming the out-of-range time", c.err)
	}
	if c.stored.Load() != 4 || c.measured.Load() != 4 || c.lastCommit.Load() != 5000 {
		t.Errorf("stored %d measured %d last commit %d, want 4 4 5000", c.stored.Load(), c.measured.Load(), c.lastCommit.Load())
	}
	if p := lat.percentiles(100); lat.count() != 1 || p[0] != 4000 {
		t.Errorf("%d latencies, max %v: want one of 4 µs (5000 − 1000 ns)", lat.count(), p[0])
	}
	for _, b := range []struct {
		in     string
		ns     int64
		device string
		ok     bool
	}{
		{"17 dev ice", 17, "dev ice", true},
		{"-5 d", -5, "d", true},
		{"9223372036854775807 d", math.MaxInt64, "d", true},
		{"9223372036854775808 d", 0, "", false},
		{"12", 0, "", false},
		{" 12 d", 0, "", false},
		{"+1 d", 0, "", false},
	} {
		ns, device, ok := parseBenchReading([]byte(b.in))
		if ns != b.ns || string(device) != b.device || ok != b.ok {
			t.Errorf("parseBenchReading(%q) = %d %q %v, want %d %q %v", b.in, ns, device, ok, b.ns, b.device, b.ok)
		}
	}
}

// TestBenchLatencies numbers readings across chunks: a reading is paired with its own
// publish time, once, and the percentiles are the nearest ranks.
func TestBenchLatencies(t *testing.T) {
	s := &benchSensors{devices: []string{"a", "b", "c"}}
	l := newBenchLatencies(s)
	const first, n = 5, 3 << benchLatencyShift // three chunks
	base := time.Unix(1000, 0)
	for k := first; k < first+n; k++ {
		l.publish(k, base.Add(time.Duration(k)))
	}
	for k := first + n - 1; k >= 0; k-- { // committed 1 s after their publish, in reverse
		ts := benchEpoch.Add(time.Duration(k/3) * benchStep).UnixNano()
		l.commit([]byte(s.devices[k%3]), ts, base.Add(time.Second+time.Duration(k)).UnixNano())
		l.commit([]byte(s.devices[k%3]), ts, base.Add(2*time.Second).UnixNano()) // again: left out
	}
	if l.count() != n {
		t.Fatalf("%d latencies, want %d", l.count(), n)
	}
	if p := l.percentiles(50, 99, 100); p[0] != time.Second || p[2] != time.Second {
		t.Errorf("percentiles %v, want all 1 s", p)
	}
	l = newBenchLatencies(s)
	for k := range 100 {
		l.publish(k, base)
		l.commit([]byte(s.devices[k%3]), benchEpoch.Add(time.Duration(k/3)*benchStep).UnixNano(), base.Add(time.Duration(k+1)*time.Millisecond).UnixNano())
	}
	if p := l.percentiles(50, 99, 100, 0.1); !reflect.DeepEqual(p, []time.Duration{50 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond, time.Millisecond}) {
		t.Errorf("percentiles 50, 99, 100, 0.1 of 1…100 ms: %v", p)
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

// BenchmarkBenchChildRead is the bench's cost of reading the worker's report of a
// committed transaction of 64 readings and pairing their latencies: CPU taken from
// the pipeline it measures, which shares the cores.
func BenchmarkBenchChildRead(b *testing.B) {
	s := newBenchSensors(mustStreams(b), 100, "x")
	var msgs bytes.Buffer
	w := newBenchWire(&msgs)
	const batches = 64
	recs := make([]*pipeline.Record, 64)
	for t := range batches {
		for i := range recs {
			_, ts, _ := s.reading(t*64 + i)
			recs[i] = &pipeline.Record{Device: s.devices[(t*64+i)%100], Time: ts}
		}
		w.committed(recs, 0)
	}
	b.ResetTimer()
	readings := 0
	for b.Loop() {
		b.StopTimer()
		lat := newBenchLatencies(s)
		at := time.Now()
		for k := range batches * 64 {
			lat.publish(k, at)
		}
		c := &benchChild{lat: lat, exited: make(chan struct{})}
		r := bytes.NewReader(msgs.Bytes())
		b.StartTimer()
		c.read(r)
		readings += batches * 64
		if c.err != nil || lat.count() != batches*64 {
			b.Fatalf("%v, %d latencies", c.err, lat.count())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(readings), "ns/reading")
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

func mustStreams(t testing.TB) []datasets.Stream {
	t.Helper()
	s, err := datasets.ReadNABDir("")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
