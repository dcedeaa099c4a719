package pipeline

import (
	"context"
	"time"
)

// Source delivers records into a pipeline (for example the MQTT subscriber).
type Source interface {
	// Run sends records to out until ctx is cancelled (a drain: stop taking new messages)
	// or a bounded input ends, then returns without closing out. It must keep whatever
	// the ack handles of delivered records need (the broker connection) until Close.
	// A non-nil error other than ctx.Err() stops the pipeline.
	Run(ctx context.Context, out chan<- *Record) error
	// Close releases the source after every delivered record has been acked or the
	// drain timed out.
	Close() error
}

// Readier is implemented by sources that can tell when they are ready to receive: for
// MQTT, connected and subscribed (a message published before the first subscription of a
// new session is not queued for it by the broker).
type Readier interface {
	// Ready returns a channel closed once the source is ready.
	Ready() <-chan struct{}
}

// Operator is one preprocessing or inference stage.
type Operator interface {
	// Run reads records from in until in is closed, and writes them (transformed, or
	// marked as dead letters) to out; it must not close out and must not drop a record:
	// every record read is written once, or split (Record.Split) and each part written.
	// ctx is cancelled only when the drain timeout has passed; then Run returns promptly.
	Run(ctx context.Context, in <-chan *Record, out chan<- *Record) error
}

// FeatureStage is implemented by operators that build or consume Record.Features, so
// that Build can check a pipeline's feature widths before it runs (a window of 8 feeding
// a model that takes 16 would dead-letter every reading).
type FeatureStage interface {
	// FeatureWidth returns the width of Features after this stage given the width before
	// it (-1 when no earlier stage has set Features), or an error when the stage cannot
	// take that width.
	FeatureWidth(in int) (int, error)
}

// Sink is the terminal stage that commits records durably (the SQLite store). After a
// commit it calls Done on every record so the source acks the message.
type Sink interface {
	// Run commits records read from in until in is closed, then returns. ctx is
	// cancelled only when the drain timeout has passed.
	Run(ctx context.Context, in <-chan *Record) error
	// Close flushes and releases the sink.
	Close() error
}

// Summarizer folds committed readings into event-time windows per device and reports
// the windows a watermark has closed. The sink calls it after each commit, with only the
// records that were newly stored (a redelivered duplicate is not passed again), so a
// summary counts every stored reading exactly once.
type Summarizer interface {
	// Add folds committed records (including committed dead letters, which count in
	// their window's DeadLetters when their device and time are known) into open windows
	// and returns the summaries of windows that the per-device watermark has closed.
	Add(recs []*Record) []Summary
	// Drain is called when the input has closed; it returns the summaries of windows
	// that must be closed now (all open windows when configured to close on drain,
	// otherwise none: they are rebuilt from the store after a restart).
	Drain() []Summary
}

// LateChecker is implemented by summarizers that can tell, before a reading is stored,
// that it arrives too late for its window (the device's watermark has already closed
// it). The sink asks it for every live reading, in arrival order, and dead-letters the
// late ones with the reason returned (category "late"), so that a late reading is kept
// and counted but is never a reading of the store nor of any summary.
type LateChecker interface {
	// CheckLate reports whether r (a live record with a device and an event time) is
	// late, with the dead-letter reason when it is. The watermark it checks against is
	// the device's as of every record already added, plus every earlier record of the
	// current batch that CheckLate accepted: calling it on a batch's records in order
	// gives the same answers as adding them one at a time. Calling it again on the same
	// record (a retried transaction) gives the same answer.
	CheckLate(r *Record) (reason string, late bool)
}

// OutboxEntry is one summary waiting for the forwarder.
type OutboxEntry struct {
	// ID is the outbox row id (ascending in creation order).
	ID int64
	// MsgID is the deduplication id, `<site>/<device>/<window start ms>`, sent as the
	// Nats-Msg-Id header.
	MsgID string
	// Summary is the summary to publish.
	Summary Summary
	// Created is when the summary was written (UTC).
	Created time.Time
}

// Outbox is the durable queue of summaries not yet acknowledged by the cloud side,
// implemented by the store and drained by a Forwarder.
type Outbox interface {
	// Pending returns up to limit entries, oldest first.
	Pending(ctx context.Context, limit int) ([]OutboxEntry, error)
	// Remove deletes acknowledged entries by id.
	Remove(ctx context.Context, ids []int64) error
	// Len returns the number of entries waiting.
	Len(ctx context.Context) (int, error)
	// Notify returns a channel that receives a value when entries were added.
	Notify() <-chan struct{}
}

// OutboxProvider is implemented by sinks that keep an outbox.
type OutboxProvider interface {
	Outbox() Outbox
}

// Forwarder publishes outbox entries to the cloud (NATS JetStream) and removes each one
// once the server has acknowledged it, retrying with backoff while the uplink is down.
type Forwarder interface {
	// Run forwards entries until ctx is cancelled.
	Run(ctx context.Context, ob Outbox) error
	// Close releases the connection.
	Close() error
}
