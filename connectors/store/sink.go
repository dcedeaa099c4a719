package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgepipe/edgepipe/pipeline"
)

const (
	insertInference = `INSERT OR IGNORE INTO inferences
		(device, ts, vhash, vals, score, anomaly, label, model, topic, received, committed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertDeadLetter = `INSERT OR IGNORE INTO dead_letters (at, topic, reason, payload, phash, part, device, ts)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
)

// Sink is the sqlite store: a pipeline.Sink that commits records in transactions of up
// to Options.Batch records and acks them after the commit, folds newly stored readings
// into the pipeline's Summarizer, and keeps the outbox of window summaries
// (pipeline.OutboxProvider).
type Sink struct {
	db      *sql.DB
	env     *pipeline.Env
	log     *slog.Logger
	metrics *pipeline.Metrics
	batch   int
	outbox  *outbox

	insInference, insDeadLetter *sql.Stmt
}

// New opens (creating when missing, mode 0600) and migrates the database at opts.Path and
// returns a sink writing to it. env supplies the Summarizer, Hooks, Metrics, Site and Log;
// a nil Metrics or Log is replaced by a private one. Errors: an invalid option, a file
// that cannot be created or opened, or a schema newer than this package.
func New(opts Options, env *pipeline.Env) (*Sink, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if env == nil {
		env = &pipeline.Env{}
	}
	s := &Sink{env: env, log: env.Log, metrics: env.Metrics, batch: opts.Batch}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.metrics == nil {
		s.metrics = pipeline.NewMetrics()
	}
	ctx := context.Background()
	db, err := openWriter(ctx, opts.Path, opts.Synchronous, opts.BusyTimeout)
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := recordFields(ctx, db, env.Fields); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	if s.insInference, err = db.PrepareContext(ctx, insertInference); err == nil {
		s.insDeadLetter, err = db.PrepareContext(ctx, insertDeadLetter)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	s.outbox = &outbox{db: db, metrics: s.metrics, notify: make(chan struct{}, 1)}
	if n, err := s.outbox.Len(ctx); err == nil {
		s.metrics.OutboxDepth.Set(float64(n))
	}
	s.metrics.StoreHealthy.Set(1)
	return s, nil
}

// Outbox returns the durable queue of summaries waiting for the forwarder.
func (s *Sink) Outbox() pipeline.Outbox { return s.outbox }

// Close releases the database; the outbox is unusable afterwards.
func (s *Sink) Close() error {
	if s.db == nil {
		return nil // built for a dry run
	}
	s.insInference.Close()
	s.insDeadLetter.Close()
	return s.db.Close()
}

// Run first rebuilds the open windows from the database (see restore), then commits the
// records read from in with dynamic batching: it blocks for one record, then takes
// whatever else is already waiting, up to Options.Batch records, without waiting for
// more. Per batch it runs one transaction, and only after the commit does it call Done on
// every record (a redelivered duplicate too, since it is stored). A failed transaction is
// retried with exponential backoff and its records are not acked meanwhile. When in is
// closed it writes the summaries of Summarizer.Drain and returns nil; when ctx is
// cancelled it returns ctx's error, leaving uncommitted records unacked.
func (s *Sink) Run(ctx context.Context, in <-chan *pipeline.Record) error {
	if err := s.restore(ctx); err != nil {
		return fmt.Errorf("store: rebuild open windows: %w", err)
	}
	batch := make([]*pipeline.Record, 0, s.batch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r, ok := <-in:
			if !ok {
				return s.drain(ctx)
			}
			batch = append(batch, r)
		}
		open := true
	fill:
		for len(batch) < s.batch {
			select {
			case r, ok := <-in:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if err := s.process(ctx, batch); err != nil {
			return err
		}
		if !open {
			return s.drain(ctx)
		}
	}
}

// process commits one batch, acks it and summarizes what it newly stored.
func (s *Sink) process(ctx context.Context, batch []*pipeline.Record) error {
	committed, dups, err := retry(ctx, s.log, s.metrics.StoreHealthy, "commit readings", len(batch), func() ([]*pipeline.Record, int, error) {
		return s.commit(ctx, batch)
	})
	if err != nil {
		return err
	}
	stored := len(committed)
	for _, r := range committed {
		if r.Dead() {
			stored--
			s.metrics.DeadLetters.WithLabelValues(pipeline.ReasonCategory(r.DeadLetter)).Inc()
		}
	}
	s.metrics.Stored.Add(float64(stored))
	s.metrics.Duplicates.Add(float64(dups))
	if h := s.env.Hooks.Committed; h != nil && (len(committed) > 0 || dups > 0) {
		h(committed, dups)
	}
	for _, r := range batch {
		r.Done()
	}
	if s.env.Summarizer != nil && len(committed) > 0 {
		return s.summarize(ctx, s.env.Summarizer.Add(committed))
	}
	return nil
}

// drain writes the summaries the Summarizer closes when the input ends.
func (s *Sink) drain(ctx context.Context) error {
	if s.env.Summarizer == nil {
		return nil
	}
	return s.summarize(ctx, s.env.Summarizer.Drain())
}

// commit stores one batch in one transaction: live records into inferences (INSERT OR
// IGNORE: a redelivered reading is a no-op), dead letters into dead_letters. It returns
// the records newly stored (live and dead, in batch order) and the number of duplicates.
func (s *Sink) commit(ctx context.Context, batch []*pipeline.Record) (committed []*pipeline.Record, dups int, err error) {
	start := time.Now()
	now := start.UnixNano()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	ins := tx.StmtContext(ctx, s.insInference)
	dl := tx.StmtContext(ctx, s.insDeadLetter)
	var vals []byte
	for _, r := range batch {
		if !r.Dead() && (r.Device == "" || r.Time.IsZero()) {
			r.Fail("store: reading without a device or an event time (does the pipeline start with a decode operator?)")
		}
		if r.Dead() {
			at := unixNano(r.Received)
			if at == 0 {
				at = now
			}
			var ts any
			if !r.Time.IsZero() {
				ts = r.Time.UnixNano()
			}
			res, e := dl.ExecContext(ctx, at, r.Topic, r.DeadLetter, r.Payload, payloadHash(r.Payload), r.Part, nullString(r.Device), ts)
			if e != nil {
				return nil, 0, fmt.Errorf("dead letter: %w", e)
			}
			n, e := res.RowsAffected()
			if e != nil {
				return nil, 0, e
			}
			if n == 0 {
				dups++ // a redelivered dead letter: stored once
				continue
			}
			committed = append(committed, r)
			continue
		}
		vals = appendValues(vals[:0], r.Values)
		res, e := ins.ExecContext(ctx, r.Device, r.Time.UnixNano(), valuesHash(r.Values), string(vals),
			nullScore(r.Score), r.Anomaly, nullString(r.Label), r.Model, r.Topic, unixNano(r.Received), now)
		if e != nil {
			return nil, 0, fmt.Errorf("inference: %w", e)
		}
		n, e := res.RowsAffected()
		if e != nil {
			return nil, 0, e
		}
		if n == 0 {
			dups++
			continue
		}
		committed = append(committed, r)
	}
	if err = tx.Commit(); err != nil {
		return nil, 0, err
	}
	s.metrics.CommitSeconds.Observe(time.Since(start).Seconds())
	return committed, dups, nil
}

// retry runs op until it succeeds or ctx is cancelled, with exponential backoff
// (100 ms doubling up to 10 s, ±50 % jitter), logging each failure at ERROR. healthy is
// set to 0 after each failed attempt and to 1 after the successful one, so that a store
// that cannot commit (disk full, read-only file) shows as edgepipe_store_healthy 0.
func retry[A, B any](ctx context.Context, log *slog.Logger, healthy prometheus.Gauge, what string, n int, op func() (A, B, error)) (A, B, error) {
	type pair struct {
		a A
		b B
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.Multiplier = 2
	bo.MaxInterval = 10 * time.Second
	p, err := backoff.Retry(ctx, func() (pair, error) {
		a, b, err := op()
		if err != nil {
			healthy.Set(0)
		} else {
			healthy.Set(1)
		}
		return pair{a, b}, err
	}, backoff.WithBackOff(bo), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, next time.Duration) {
		log.Error("store: transaction failed, nothing acked; retrying", "op", what, "records", n, "retry_in", next, "err", err)
	}))
	if err != nil {
		return p.a, p.b, fmt.Errorf("store: %s: %w", what, err)
	}
	return p.a, p.b, nil
}
