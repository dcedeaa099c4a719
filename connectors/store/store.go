// Package store is edgepipe's SQLite store (modernc.org/sqlite, pure Go, WAL mode): the
// pipeline's Sink, which commits every reading once and then acks it, the durable outbox
// of window summaries drained by the NATS forwarder, and a read API for `edgepipe query`
// and the demo report. The tables are documented in README.md.
package store

import (
	"fmt"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// TypeName is the store's YAML `type`.
const TypeName = "sqlite"

// Config field names of the sqlite store.
const (
	fieldPath        = "path"
	fieldBatch       = "batch"
	fieldSynchronous = "synchronous"
	fieldBusyTimeout = "busy_timeout"
)

// SQLite synchronous modes accepted by the `synchronous` field.
const (
	// SyncFull fsyncs the write-ahead log at every commit: a reading that was acked
	// survives a power cut.
	SyncFull = "FULL"
	// SyncNormal fsyncs only at checkpoints: commits are faster, but the last
	// transactions before a power cut can be lost although their readings were acked
	// (the broker will not redeliver them). The database stays consistent.
	SyncNormal = "NORMAL"
)

// Defaults of the sqlite store.
const (
	DefaultBatch       = 512
	DefaultBusyTimeout = 5 * time.Second
)

// Options configure a Sink.
type Options struct {
	// Path is the database file; it is created (mode 0600) when missing.
	Path string
	// Batch is the maximum number of records per transaction (≥ 1).
	Batch int
	// Synchronous is SyncFull or SyncNormal.
	Synchronous string
	// BusyTimeout is how long a statement waits for a lock held by another connection.
	BusyTimeout time.Duration
}

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindStore,
		Name:    TypeName,
		Summary: "SQLite database (WAL): every reading stored once, dead letters, window summaries and their outbox.",
		Fields: []pipeline.Field{
			{Name: fieldPath, Type: pipeline.TypeString, Required: true,
				Description: "Database file, relative to the config file's folder; created with mode 0600 when missing."},
			{Name: fieldBatch, Type: pipeline.TypeInt, Default: DefaultBatch, Min: pipeline.AtLeast(1),
				Description: "Maximum records per transaction. The store takes whatever is waiting, up to this many, without waiting for more (dynamic batching: low latency when idle, large transactions under load)."},
			{Name: fieldSynchronous, Type: pipeline.TypeString, Default: SyncFull, Enum: []string{SyncFull, SyncNormal},
				Description: "SQLite synchronous mode. FULL fsyncs the write-ahead log at every commit, so an acked reading survives a power cut. NORMAL is faster but can lose the last acked transactions on a power cut (never on a process crash)."},
			{Name: fieldBusyTimeout, Type: pipeline.TypeDuration, Default: DefaultBusyTimeout,
				Description: "How long a statement waits for a lock held by another process (for example `edgepipe query`) before failing."},
		},
		Build: build,
	})
}

func build(c *pipeline.Conf, env *pipeline.Env) (any, error) {
	opts := Options{
		Path:        env.Path(c.String(fieldPath)),
		Batch:       c.Int(fieldBatch),
		Synchronous: c.String(fieldSynchronous),
		BusyTimeout: c.Duration(fieldBusyTimeout),
	}
	if opts.Path == "" {
		return nil, c.Errorf(fieldPath, "must not be empty")
	}
	if opts.BusyTimeout < 0 {
		return nil, c.Errorf(fieldBusyTimeout, "must not be negative, got %s", opts.BusyTimeout)
	}
	if env.DryRun {
		return &Sink{}, nil // lint: nothing is created
	}
	s, err := New(opts, env)
	if err != nil {
		return nil, c.Errorf(fieldPath, "%v", err)
	}
	return s, nil
}

func (o Options) validate() error {
	switch {
	case o.Path == "":
		return fmt.Errorf("store: empty path")
	case o.Batch < 1:
		return fmt.Errorf("store: batch must be at least 1, got %d", o.Batch)
	case o.Synchronous != SyncFull && o.Synchronous != SyncNormal:
		return fmt.Errorf("store: synchronous must be %s or %s, got %q", SyncFull, SyncNormal, o.Synchronous)
	case o.BusyTimeout < 0:
		return fmt.Errorf("store: negative busy timeout %s", o.BusyTimeout)
	}
	return nil
}
