package pipeline

import (
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are the engine's Prometheus metrics, registered on their own Registry so that
// several pipelines (tests) can live in one process. The registry also holds the Go
// runtime's and the process's standard collectors (go_*, process_*: memory, CPU, open
// files). Names follow the Prometheus conventions: base units in the name (_seconds,
// _bytes), _total for counters, _info for an info metric.
type Metrics struct {
	Registry *prometheus.Registry

	// Received counts messages taken from the source.
	Received prometheus.Counter
	// Stored counts readings newly committed to the store; Duplicates counts redelivered
	// readings the store already had (not stored again).
	Stored, Duplicates prometheus.Counter
	// DeadLetters counts dead-lettered records by reason category (the reason up to its
	// first ':').
	DeadLetters *prometheus.CounterVec
	// Late counts readings that arrived after their window had closed (dead-lettered as
	// late when the summarizer is configured so), in no summary.
	Late prometheus.Counter
	// Conflicts counts readings stored for a device and event time that already had a
	// stored reading with different values (both are kept).
	Conflicts prometheus.Counter
	// Summaries counts summaries written (with their outbox row); Forwarded counts
	// summaries acknowledged by the cloud side.
	Summaries, Forwarded prometheus.Counter
	// OutboxDepth is the number of summaries waiting in the outbox.
	OutboxDepth prometheus.Gauge
	// BatchSize is the distribution of inference batch sizes (rows).
	BatchSize prometheus.Histogram
	// InferSeconds is the model's time per batch; CommitSeconds the store's time per
	// transaction.
	InferSeconds, CommitSeconds prometheus.Histogram
	// Connected is 1 while a connector's connection is up, by connector (mqtt, nats).
	Connected *prometheus.GaugeVec
	// StoreHealthy is 1 while the store commits, 0 after a failed transaction (disk
	// full, read-only file…) until one succeeds again; nothing is acked meanwhile.
	StoreHealthy prometheus.Gauge
	// Stalled is 1 while no record has reached the pipeline for the watchdog's duration;
	// Stalls counts those stalls (see the top-level watchdog key).
	Stalled prometheus.Gauge
	Stalls  prometheus.Counter
	// Unscored counts readings that reached the model stage but got no score, by reason:
	// "nonfinite_features" (a NaN or ±Inf feature: never given to the model) or
	// "nonfinite_output" (the model's output or score was NaN or ±Inf). They are stored
	// with no score.
	Unscored *prometheus.CounterVec
	// ModelSwaps counts model file reloads by result: "ok" (a new model now serves) or
	// "rejected" (the file was unreadable, corrupt or incompatible; the old model serves).
	// ModelPushes counts models received over NATS (edgepipe model push) by result:
	// "written" (over the model file), "rejected" (invalid or incompatible) or "failed"
	// (the file could not be written).
	ModelSwaps, ModelPushes *prometheus.CounterVec
	// ModelInfo is 1 for the version (content hash) and name of the model serving.
	ModelInfo *prometheus.GaugeVec
	// StageRecords counts the records each stage has passed on, by stage: each operator
	// by its YAML type in pipeline order (a type used again is "type#2", "type#3" …), and
	// "store" (records the store has committed, redelivered duplicates included, each
	// acked next); what the source delivered is Received. Live and dead-lettered records
	// both count; the difference between two stages is what is inside the later one
	// (queued, or in an open batch).
	StageRecords *prometheus.CounterVec
	// E2ELatency is, for every record the store newly commits (a reading or a dead
	// letter), the time from its arrival at the source (Record.Received) to the end of
	// its transaction, in seconds: queues, batching, inference and the commit.
	E2ELatency prometheus.Histogram

	// DBSizeBytes is the size of the store's files on disk (the database and its
	// write-ahead log), set by the store after each write.
	DBSizeBytes prometheus.Gauge
	// PrunedRows counts rows deleted by the store's retention, by table (inferences,
	// dead_letters, summaries) and reason: "age" (older than the table's max age),
	// "rows" (beyond its max rows) or "size" (the database reached max_size).
	PrunedRows *prometheus.CounterVec
	// PruneSeconds is the time of each retention transaction (a batch of deletes with
	// its checkpoint), during which the store's other writes wait.
	PruneSeconds prometheus.Histogram
	// OutboxRefused counts summaries not queued when written because the outbox was full
	// (outbox_full: refuse): kept in the summaries table and queued, oldest first, as
	// the forwarder frees room. OutboxDropped counts outbox entries deleted unsent to
	// make room for newer ones (outbox_full: drop_oldest).
	OutboxRefused, OutboxDropped prometheus.Counter

	outboxOldest atomic.Int64 // creation time (UnixNano) of the oldest outbox entry; 0 = empty
}

// NewMetrics returns a fresh set of metrics on a new registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{
		Registry:    r,
		Received:    prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_received_total", Help: "Messages taken from the source."}),
		Stored:      prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_stored_total", Help: "Readings newly committed to the store."}),
		Duplicates:  prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_duplicates_total", Help: "Redelivered readings the store already held (stored once)."}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgepipe_dead_letters_total", Help: "Records dead-lettered, by reason."}, []string{"reason"}),
		Late:        prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_late_readings_total", Help: "Readings that arrived after their window had closed (dead-lettered as late with dead_letter_late): counted in no summary."}),
		Conflicts:   prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_conflicting_readings_total", Help: "Readings stored for a device and event time that already had a stored reading with different values (both kept)."}),
		Summaries:   prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_summaries_total", Help: "Window summaries written to the outbox."}),
		Forwarded:   prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_summaries_forwarded_total", Help: "Summaries acknowledged by the cloud side."}),
		OutboxDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgepipe_outbox_depth", Help: "Summaries waiting in the outbox."}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "edgepipe_infer_batch_size", Help: "Rows per inference batch.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}}),
		InferSeconds:  prometheus.NewHistogram(prometheus.HistogramOpts{Name: "edgepipe_infer_batch_seconds", Help: "Model time per inference batch.", Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10)}),
		CommitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "edgepipe_store_commit_seconds", Help: "Store time per transaction.", Buckets: prometheus.ExponentialBuckets(1e-4, 4, 9)}),
		Connected:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edgepipe_connected", Help: "1 while the connector's connection is up."}, []string{"connector"}),
		StoreHealthy:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgepipe_store_healthy", Help: "1 while the store commits; 0 after a failed transaction until one succeeds (nothing is acked meanwhile)."}),
		Stalled:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgepipe_stalled", Help: "1 while no reading has arrived for the watchdog duration."}),
		Stalls:        prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_stalls_total", Help: "Stalls reported by the watchdog: periods of the watchdog duration without a reading."}),
		Unscored:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgepipe_unscored_total", Help: "Readings stored without a score: nonfinite_features (a NaN/Inf feature, not given to the model) or nonfinite_output (the model gave NaN/Inf)."}, []string{"reason"}),
		ModelSwaps:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgepipe_model_swaps_total", Help: "Model file reloads: ok (a new model serves) or rejected (the old one keeps serving)."}, []string{"result"}),
		ModelPushes:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgepipe_model_pushes_total", Help: "Models received over NATS: written (over the model file), rejected (invalid or incompatible) or failed (not written)."}, []string{"result"}),
		ModelInfo:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edgepipe_model_info", Help: "1 for the name and version (content hash) of the model serving."}, []string{"name", "version"}),
		StageRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgepipe_stage_records_total",
			Help: "Records each stage has passed on (live and dead-lettered): each operator by type in pipeline order, then store (committed, duplicates included)."}, []string{"stage"}),
		E2ELatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "edgepipe_e2e_latency_seconds",
			Help:    "Time from a record's arrival at the source to the commit of its transaction, for every record newly committed.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}),
		DBSizeBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgepipe_db_size_bytes", Help: "Size of the store's files on disk: the database and its write-ahead log."}),
		PrunedRows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgepipe_pruned_rows_total",
			Help: "Rows deleted by the store's retention, by table and reason (age, rows, size)."}, []string{"table", "reason"}),
		PruneSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "edgepipe_prune_seconds",
			Help: "Time of each retention transaction, during which the store's other writes wait.", Buckets: prometheus.ExponentialBuckets(1e-4, 4, 9)}),
		OutboxRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_outbox_refused_total",
			Help: "Summaries not queued when written because the outbox was full (outbox_full: refuse); queued later as room frees."}),
		OutboxDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "edgepipe_outbox_dropped_total",
			Help: "Outbox entries deleted unsent to make room for newer summaries (outbox_full: drop_oldest)."}),
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgepipe_outbox_oldest_age_seconds",
		Help: "Age of the oldest summary waiting in the outbox; 0 when the outbox is empty."}, m.outboxOldestAge))
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range []prometheus.Collector{m.PrunedRows, m.PruneSeconds, m.OutboxRefused, m.OutboxDropped, m.StageRecords, m.E2ELatency, m.DBSizeBytes, m.Unscored, m.ModelSwaps, m.ModelPushes, m.ModelInfo, m.Stalled, m.Stalls, m.Received, m.Stored, m.Duplicates, m.DeadLetters, m.Late, m.Conflicts, m.Summaries, m.Forwarded, m.OutboxDepth, m.BatchSize, m.InferSeconds, m.CommitSeconds, m.Connected, m.StoreHealthy} {
		f(c)
	}
	return m
}

// SetOutboxOldest records the creation time of the oldest summary in the outbox (the zero
// time when it is empty), from which edgepipe_outbox_oldest_age_seconds is computed at each
// scrape. The store calls it whenever the outbox changes.
func (m *Metrics) SetOutboxOldest(t time.Time) {
	if t.IsZero() {
		m.outboxOldest.Store(0)
		return
	}
	m.outboxOldest.Store(t.UnixNano())
}

// outboxOldestAge is the age in seconds of the oldest outbox entry, 0 when empty.
func (m *Metrics) outboxOldestAge() float64 {
	ns := m.outboxOldest.Load()
	if ns == 0 {
		return 0
	}
	return math.Max(0, time.Since(time.Unix(0, ns)).Seconds())
}

// GaugeValue returns the current value of g, so that a component can report (in a
// readiness check) the state its gauge shows.
func GaugeValue(g prometheus.Gauge) float64 {
	var d dto.Metric
	if err := g.Write(&d); err != nil {
		return math.NaN()
	}
	return d.GetGauge().GetValue()
}

// ReasonCategory is the metric label for a dead-letter reason: the reason up to its
// first ':' ("decode: invalid JSON: …" → "decode").
func ReasonCategory(reason string) string {
	if i := strings.IndexByte(reason, ':'); i >= 0 {
		return reason[:i]
	}
	return reason
}
