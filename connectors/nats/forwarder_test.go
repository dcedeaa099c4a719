package natsconn

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/connectors/embedded"
	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// waitFor bounds every wait on the forwarder; it is a deadlock guard, not an assertion.
const waitFor = 15 * time.Second

// memOutbox is an in-memory pipeline.Outbox.
type memOutbox struct {
	mu      sync.Mutex
	entries []pipeline.OutboxEntry
	removed []int64
	notify  chan struct{}
}

func newMemOutbox() *memOutbox { return &memOutbox{notify: make(chan struct{}, 1)} }

func (o *memOutbox) add(es ...pipeline.OutboxEntry) {
	o.mu.Lock()
	o.entries = append(o.entries, es...)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

func (o *memOutbox) Pending(_ context.Context, limit int) ([]pipeline.OutboxEntry, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.entries[:min(limit, len(o.entries))]), nil
}

func (o *memOutbox) Remove(_ context.Context, ids []int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.entries = slices.DeleteFunc(o.entries, func(e pipeline.OutboxEntry) bool { return slices.Contains(ids, e.ID) })
	o.removed = append(o.removed, ids...)
	return nil
}

func (o *memOutbox) Len(context.Context) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.entries), nil
}

func (o *memOutbox) Notify() <-chan struct{} { return o.notify }

func (o *memOutbox) removedIDs() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.removed)
}

// waitEmpty waits until the outbox is empty.
func (o *memOutbox) waitEmpty(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		n, _ := o.Len(context.Background())
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still holds %d entries after %s", n, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func entry(id int64, site, device string, startMs int64) pipeline.OutboxEntry {
	return pipeline.OutboxEntry{
		ID: id, MsgID: fmt.Sprintf("%s/%s/%d", site, device, startMs),
		Summary: sampleSummary(site, device, startMs), Created: time.Unix(0, 0).UTC(),
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func testEnv(logs *syncBuffer) *pipeline.Env {
	return &pipeline.Env{Name: "test", Site: "plant-1", Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: pipeline.NewMetrics()}
}

func testConfig(url string) config {
	return config{
		url: url, prefix: DefaultSubjectPrefix, stream: DefaultStream, jetstream: true, format: FormatMsgpack,
		duplicateWindow: time.Hour, maxPending: 4, retryMax: 300 * time.Millisecond, name: "edgepipe-test",
	}
}

// running is a forwarder whose Run goroutine a test can stop.
type running struct {
	f      *forwarder
	env    *pipeline.Env
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func startForwarder(t *testing.T, cfg config, ob pipeline.Outbox) *running {
	t.Helper()
	logs := &syncBuffer{}
	env := testEnv(logs)
	f := newForwarder(cfg, env)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{f: f, env: env, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f.Run(ctx, ob) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(waitFor):
		t.Error("Run did not return after cancel")
	}
	_ = r.f.Close()
}

func startServer(t *testing.T) *embedded.NATSServer {
	t.Helper()
	s, err := embedded.StartNATS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func connect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// streamMsgs returns every message stored in the stream, in sequence order.
func streamMsgs(t *testing.T, js jetstream.JetStream, name string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get seq %d: %v", seq, err)
		}
		out = append(out, m)
	}
	if uint64(len(out)) != info.State.Msgs {
		t.Fatalf("read %d messages, stream state says %d", len(out), info.State.Msgs)
	}
	return out
}

func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestForwarderPublishesEachEntryOnce(t *testing.T) {
	s := startServer(t)
	ob := newMemOutbox()
	devices := []string{"sensor-1", "a.b", "*", ">", "dev 7", "température", "", "x/y",
		strings.Repeat("x", 10000), strings.Repeat("é", 5000)} // long ids: hashed tokens
	for i, d := range devices {
		ob.add(entry(int64(i+1), "plant-1", d, 60000*int64(i)))
	}
	r := startForwarder(t, testConfig(s.URL()), ob) // max_pending 4: three batches
	ob.waitEmpty(t)

	_, js := connect(t, s.URL())
	msgs := streamMsgs(t, js, DefaultStream)
	if len(msgs) != len(devices) {
		t.Fatalf("stream holds %d messages, want %d", len(msgs), len(devices))
	}
	for i, m := range msgs {
		d := devices[i]
		if want := Subject("edgepipe", "plant-1", d); m.Subject != want {
			t.Errorf("msg %d subject %q, want %q", i, m.Subject, want)
		}
		if want := fmt.Sprintf("plant-1/%s/%d", d, 60000*i); m.Header.Get(nats.MsgIdHdr) != want {
			t.Errorf("msg %d Nats-Msg-Id %q, want %q", i, m.Header.Get(nats.MsgIdHdr), want)
		}
		if ct := m.Header.Get("Content-Type"); ct != ContentTypeMsgpack {
			t.Errorf("msg %d Content-Type %q", i, ct)
		}
		got, err := DecodeSummary(m.Data, ContentTypeMsgpack)
		if err != nil || got.Device != d || got.StartMs != 60000*int64(i) || *got.MaxScore != 0.9 {
			t.Errorf("msg %d payload: %+v, %v", i, got, err)
		}
	}
	if got := ob.removedIDs(); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("removed ids %v, want 1..10 in order", got)
	}
	if v := metricValue(t, r.env.Metrics.Forwarded); v != 10 {
		t.Errorf("forwarded metric = %v, want 10", v)
	}
	if v := metricValue(t, r.env.Metrics.OutboxDepth); v != 0 {
		t.Errorf("outbox depth metric = %v, want 0", v)
	}
	if v := metricValue(t, r.env.Metrics.Connected.WithLabelValues("nats")); v != 1 {
		t.Errorf("connected metric = %v, want 1", v)
	}
	// The created stream: our subjects and the configured duplicate window.
	st, err := js.Stream(context.Background(), DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.CachedInfo().Config; !slices.Equal(cfg.Subjects, []string{"edgepipe.>"}) || cfg.Duplicates != time.Hour {
		t.Errorf("stream subjects %v, duplicates %s; want [edgepipe.>], 1h", cfg.Subjects, cfg.Duplicates)
	}
}

// TestForwarderResendIsDeduplicated simulates a crash between the publish ack and the
// outbox Remove: the same entry is published again and the stream keeps one copy.
func TestForwarderResendIsDeduplicated(t *testing.T) {
	s := startServer(t)
	ob := newMemOutbox()
	e := entry(1, "plant-1", "dev.1", 120000)
	ob.add(e)
	startForwarder(t, testConfig(s.URL()), ob)
	ob.waitEmpty(t)

	// Re-add the same entry (same MsgID) under a new row id, as a restarted store would.
	e.ID = 2
	ob.add(e, entry(3, "plant-1", "dev.2", 120000))
	ob.waitEmpty(t)

	_, js := connect(t, s.URL())
	msgs := streamMsgs(t, js, DefaultStream)
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Header.Get(nats.MsgIdHdr))
	}
	if !slices.Equal(ids, []string{"plant-1/dev.1/120000", "plant-1/dev.2/120000"}) {
		t.Fatalf("stream msg ids %v, want each summary once", ids)
	}
	if got := ob.removedIDs(); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("removed %v, want [1 2 3] (the duplicate is acked and removed too)", got)
	}
}

// TestForwarderKeepsEntriesWhileServerDown stops the server, adds entries, and starts a
// new server on the same port and store: the entries are delivered once it is back.
func TestForwarderKeepsEntriesWhileServerDown(t *testing.T) {
	dir := t.TempDir()
	s, err := embedded.StartNATS(dir)
	if err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	ob := newMemOutbox()
	ob.add(entry(1, "plant-1", "d1", 0))
	r := startForwarder(t, testConfig(s.URL()), ob)
	ob.waitEmpty(t)

	s.Close()
	ob.add(entry(2, "plant-1", "d1", 60000), entry(3, "plant-1", "d2", 60000))
	// Let the forwarder try while the server is down; nothing may be removed.
	time.Sleep(400 * time.Millisecond)
	if n, _ := ob.Len(context.Background()); n != 2 {
		t.Fatalf("outbox holds %d entries while the server is down, want 2", n)
	}
	if v := metricValue(t, r.env.Metrics.Connected.WithLabelValues("nats")); v != 0 {
		t.Errorf("connected metric = %v while down, want 0", v)
	}

	s2, err := embedded.StartNATSPort(dir, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Close)
	ob.waitEmpty(t)

	_, js := connect(t, s2.URL())
	var ids []string
	for _, m := range streamMsgs(t, js, DefaultStream) {
		ids = append(ids, m.Header.Get(nats.MsgIdHdr))
	}
	if !slices.Equal(ids, []string{"plant-1/d1/0", "plant-1/d1/60000", "plant-1/d2/60000"}) {
		t.Fatalf("stream msg ids after outage %v", ids)
	}
	if !strings.Contains(r.logs.String(), "outbox keeps the summaries") {
		t.Errorf("no retry warning logged:\n%s", r.logs.String())
	}
}

func TestForwarderJSONFormat(t *testing.T) {
	s := startServer(t)
	ob := newMemOutbox()
	e := entry(1, "plant-1", "dev-9", 180000)
	ob.add(e)
	cfg := testConfig(s.URL())
	cfg.format = FormatJSON
	startForwarder(t, cfg, ob)
	ob.waitEmpty(t)

	_, js := connect(t, s.URL())
	msgs := streamMsgs(t, js, DefaultStream)
	if len(msgs) != 1 {
		t.Fatalf("stream holds %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if ct := m.Header.Get("Content-Type"); ct != ContentTypeJSON {
		t.Fatalf("Content-Type %q, want %q", ct, ContentTypeJSON)
	}
	if !bytes.HasPrefix(m.Data, []byte(`{"schema":"edgepipe.summary","version":1,"site":"plant-1","device":"dev-9","start_ms":180000,"end_ms":240000,`)) {
		t.Fatalf("JSON payload %s", m.Data)
	}
	got, err := DecodeSummary(m.Data, m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Fields["temp"].Std == nil || *got.Fields["temp"].Std != 0.75 || got.Fields["hum"].Mean != nil || got.DeadLetters != 3 {
		t.Fatalf("decoded %+v", got)
	}
}

// TestForwarderExistingStreamMismatch: a stream that does not store our subjects is a
// configuration error, reported by Run, and the stream is left alone.
func TestForwarderExistingStreamMismatch(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s.URL())
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: DefaultStream, Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	ob := newMemOutbox()
	ob.add(entry(1, "plant-1", "d", 0))
	f := newForwarder(testConfig(s.URL()), testEnv(&syncBuffer{}))
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := f.Run(ctx, ob)
	if err == nil || !strings.Contains(err.Error(), "do not cover the summary subjects edgepipe.*.summary.*") {
		t.Fatalf("Run = %v, want a subjects error", err)
	}
	if n, _ := ob.Len(ctx); n != 1 {
		t.Fatalf("outbox holds %d, want the entry kept", n)
	}
	st, err := js.Stream(ctx, DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if subj := st.CachedInfo().Config.Subjects; !slices.Equal(subj, []string{"other.>"}) {
		t.Fatalf("stream subjects changed to %v", subj)
	}
}

// TestForwarderExistingStreamKept: a stream that stores our subjects (among others) is
// used as is, its duplicate window included.
func TestForwarderExistingStreamKept(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s.URL())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ALL", Subjects: []string{"edgepipe.*.summary.*", "other.>"}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	ob := newMemOutbox()
	ob.add(entry(1, "plant-1", "d", 0))
	cfg := testConfig(s.URL())
	cfg.stream = "ALL"
	r := startForwarder(t, cfg, ob)
	ob.waitEmpty(t)
	if n := len(streamMsgs(t, js, "ALL")); n != 1 {
		t.Fatalf("stream ALL holds %d, want 1", n)
	}
	st, _ := js.Stream(ctx, "ALL")
	if d := st.CachedInfo().Config.Duplicates; d != time.Minute {
		t.Fatalf("duplicate window changed to %s", d)
	}
	if !strings.Contains(r.logs.String(), "shorter duplicate window") {
		t.Errorf("no warning about the 1m duplicate window:\n%s", r.logs.String())
	}
}

// TestForwarderCoreNATS: jetstream off publishes with core NATS, empties the outbox on
// flush and warns at start that delivery is at most once.
func TestForwarderCoreNATS(t *testing.T) {
	s := startServer(t)
	nc, _ := connect(t, s.URL())
	sub, err := nc.SubscribeSync("edgepipe.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ob := newMemOutbox()
	ob.add(entry(1, "plant-1", "a.b", 0), entry(2, "plant-1", "c", 0))
	cfg := testConfig(s.URL())
	cfg.jetstream = false
	r := startForwarder(t, cfg, ob)
	ob.waitEmpty(t)
	for _, want := range []string{"edgepipe.plant-1.summary.a%2Eb", "edgepipe.plant-1.summary.c"} {
		m, err := sub.NextMsg(waitFor)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != want || m.Header.Get(nats.MsgIdHdr) == "" {
			t.Fatalf("got subject %q id %q, want %q", m.Subject, m.Header.Get(nats.MsgIdHdr), want)
		}
	}
	if !strings.Contains(r.logs.String(), "AT MOST ONCE") || !strings.Contains(r.logs.String(), "level=WARN") {
		t.Fatalf("no at-most-once warning at start:\n%s", r.logs.String())
	}
}

func TestForwarderStopsOnCancel(t *testing.T) {
	f := newForwarder(testConfig("nats://127.0.0.1:1"), testEnv(&syncBuffer{}))
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, newMemOutbox()) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v after cancel with no server", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Run did not return after cancel")
	}
}

// TestForwarderRecreatesDeletedStream: when the stream disappears (deleted, or the
// server lost its storage) the forwarder creates it again and delivers.
func TestForwarderRecreatesDeletedStream(t *testing.T) {
	s := startServer(t)
	ob := newMemOutbox()
	ob.add(entry(1, "plant-1", "d", 0))
	startForwarder(t, testConfig(s.URL()), ob)
	ob.waitEmpty(t)
	_, js := connect(t, s.URL())
	if err := js.DeleteStream(context.Background(), DefaultStream); err != nil {
		t.Fatal(err)
	}
	ob.add(entry(2, "plant-1", "d", 60000))
	ob.waitEmpty(t)
	msgs := streamMsgs(t, js, DefaultStream)
	if len(msgs) != 1 || msgs[0].Header.Get(nats.MsgIdHdr) != "plant-1/d/60000" {
		t.Fatalf("recreated stream holds %d messages (want only plant-1/d/60000)", len(msgs))
	}
}

// lockedOutbox is a memOutbox whose Remove waits until its context ends, as the SQLite
// outbox does while another process holds the database's write lock.
type lockedOutbox struct {
	*memOutbox
	removing chan struct{}
}

func (o *lockedOutbox) Remove(ctx context.Context, _ []int64) error {
	select {
	case o.removing <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// A Remove stuck on a locked store does not hold the forwarder's exit for removeTimeout:
// once Run's context is cancelled it gets removeGrace. (It waited the full 5 s before,
// which made `edgepipe run` exit 12 s after SIGTERM with a drain_timeout of 2 s.)
func TestForwarderStopsWhileRemoveIsStuck(t *testing.T) {
	s := startServer(t)
	ob := &lockedOutbox{memOutbox: newMemOutbox(), removing: make(chan struct{}, 1)}
	ob.add(entry(1, "plant-1", "sensor-1", 0))
	r := startForwarder(t, testConfig(s.URL()), ob)
	select {
	case <-ob.removing:
	case <-time.After(waitFor):
		t.Fatal("the acked entry was never removed")
	}
	start := time.Now()
	r.cancel()
	r.cancel = nil
	select {
	case <-r.done:
	case <-time.After(waitFor):
		t.Fatal("Run did not return after cancel")
	}
	if took := time.Since(start); took >= removeTimeout {
		t.Fatalf("Run returned %v after cancel, want about removeGrace (%v), well under removeTimeout (%v)", took, removeGrace, removeTimeout)
	}
}
