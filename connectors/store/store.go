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

	fieldReadingsMaxAge     = "readings_max_age"
	fieldMaxSize            = "max_size"
	fieldDeadLettersMaxAge  = "dead_letters_max_age"
	fieldDeadLettersMaxRows = "dead_letters_max_rows"
	fieldSummariesMaxAge    = "summaries_max_age"
	fieldSummariesMaxRows   = "summaries_max_rows"
	fieldOutboxMaxRows      = "outbox_max_rows"
	fieldOutboxFull         = "outbox_full"
	fieldPruneInterval      = "prune_interval"
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
	DefaultBatch       = 1024
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
	// Retention bounds what the store keeps (the zero value: no limits).
	Retention Retention
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
			{Name: fieldMaxSize, Type: pipeline.TypeString, Default: DefaultMaxSize,
				Description: "Retention: the most the database may take on disk, its file plus its write-ahead log: bytes, or a number with a unit (512MiB, 1GiB, 2GB); 0 = no limit, else at least 1MiB. Near it, the oldest readings and dead letters are pruned (then the oldest summaries) without blocking ingest for long; if nothing more can be pruned, ingest waits and nothing is acked."},
			{Name: fieldReadingsMaxAge, Type: pipeline.TypeDuration, Default: time.Duration(0),
				Description: "Retention: readings stored longer ago than this (by their commit time) are pruned, oldest first; 0 = no age limit."},
			{Name: fieldDeadLettersMaxAge, Type: pipeline.TypeDuration, Default: time.Duration(0),
				Description: "Retention: dead letters that arrived longer ago than this are pruned; 0 = no age limit."},
			{Name: fieldDeadLettersMaxRows, Type: pipeline.TypeInt, Default: DefaultDeadLettersMaxRows, Min: pipeline.AtLeast(0),
				Description: "Retention: the most dead letters kept; the oldest beyond it are pruned. 0 = no limit."},
			{Name: fieldSummariesMaxAge, Type: pipeline.TypeDuration, Default: time.Duration(0),
				Description: "Retention: summaries written longer ago than this are pruned, except each device's latest (where a restart resumes); 0 = no age limit."},
			{Name: fieldSummariesMaxRows, Type: pipeline.TypeInt, Default: DefaultSummariesMaxRows, Min: pipeline.AtLeast(0),
				Description: "Retention: the most summaries kept; the oldest beyond it are pruned, except each device's latest. 0 = no limit."},
			{Name: fieldOutboxMaxRows, Type: pipeline.TypeInt, Default: DefaultOutboxMaxRows, Min: pipeline.AtLeast(0),
				Description: "The most summaries waiting in the outbox for the cloud; outbox_full says what happens beyond it. 0 = no limit."},
			{Name: fieldOutboxFull, Type: pipeline.TypeString, Default: OutboxRefuse, Enum: []string{OutboxRefuse, OutboxDropOldest},
				Description: "When the outbox is full: refuse keeps the queued summaries and stores a new one unqueued, queueing it (oldest first) as the forwarder frees room, so nothing is lost while the summaries limits keep it (edgepipe_outbox_refused_total); drop_oldest queues it and deletes the oldest unsent entries (edgepipe_outbox_dropped_total)."},
			{Name: fieldPruneInterval, Type: pipeline.TypeDuration, Default: DefaultPruneInterval,
				Description: "Retention: how often the age and row limits are applied. The size limit is also applied whenever a write nears it."},
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
		Retention: Retention{
			ReadingsMaxAge:     c.Duration(fieldReadingsMaxAge),
			DeadLettersMaxAge:  c.Duration(fieldDeadLettersMaxAge),
			DeadLettersMaxRows: c.Int(fieldDeadLettersMaxRows),
			SummariesMaxAge:    c.Duration(fieldSummariesMaxAge),
			SummariesMaxRows:   c.Int(fieldSummariesMaxRows),
			OutboxMaxRows:      c.Int(fieldOutboxMaxRows),
			OutboxFull:         c.String(fieldOutboxFull),
			Interval:           c.Duration(fieldPruneInterval),
		},
	}
	if opts.Path == "" {
		return nil, c.Errorf(fieldPath, "must not be empty")
	}
	size, err := ParseSize(c.String(fieldMaxSize))
	if err == nil && size > 0 && size < MinMaxSize {
		err = fmt.Errorf("%d bytes is below the minimum of 1MiB (0 turns the limit off)", size)
	}
	if err != nil {
		return nil, c.Errorf(fieldMaxSize, "%v", err)
	}
	opts.Retention.MaxSize = size
	if opts.Retention.Interval <= 0 {
		return nil, c.Errorf(fieldPruneInterval, "must be positive, got %s", opts.Retention.Interval)
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
	return o.Retention.validate()
}
