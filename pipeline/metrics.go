package pipeline

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics, registered on their own Registry so that
// several pipelines (tests) can live in one process.
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
	}
	for _, c := range []prometheus.Collector{m.Unscored, m.ModelSwaps, m.ModelPushes, m.ModelInfo, m.Stalled, m.Stalls, m.Received, m.Stored, m.Duplicates, m.DeadLetters, m.Late, m.Conflicts, m.Summaries, m.Forwarded, m.OutboxDepth, m.BatchSize, m.InferSeconds, m.CommitSeconds, m.Connected, m.StoreHealthy} {
		f(c)
	}
	return m
}

// ReasonCategory is the metric label for a dead-letter reason: the reason up to its
// first ':' ("decode: invalid JSON: …" → "decode").
func ReasonCategory(reason string) string {
	if i := strings.IndexByte(reason, ':'); i >= 0 {
		return reason[:i]
	}
	return reason
}
