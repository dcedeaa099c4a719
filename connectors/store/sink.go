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
	// Both lookups use the UNIQUE (ts, device, vhash) index.
	selectStored   = `SELECT EXISTS (SELECT 1 FROM inferences WHERE ts = ? AND device = ? AND vhash = ?)`
	selectConflict = `SELECT EXISTS (SELECT 1 FROM inferences WHERE ts = ? AND device = ? AND vhash <> ?)`
	// selectLatestTs is an upper bound of the device's latest stored event time (the
	// devices table, widened in every transaction that stores readings); NULL when the
	// device has none.
	selectLatestTs = `SELECT max(latest_ts) FROM devices WHERE device = ?`
	// upsertDevices widens devices' spans of stored event times (ns): each row of
	// parameters is (device, first, latest); multiRow repeats the row.
	upsertDevices     = `INSERT INTO devices (device, first_ts, latest_ts) VALUES (?, ?, ?)`
	upsertDevicesTail = ` ON CONFLICT (device) DO UPDATE SET first_ts = min(first_ts, excluded.first_ts),
		latest_ts = max(latest_ts, excluded.latest_ts)`
)

// Sink is the sqlite store: a pipeline.Sink that commits records in transactions of up
// to Options.Batch records and acks them after the commit, folds newly stored readings
// into the pipeline's Summarizer, and keeps the outbox of window summaries
// (pipeline.OutboxProvider).
type Sink struct {
	db      *sql.DB
	path    string
	env     *pipeline.Env
	log     *slog.Logger
	metrics *pipeline.Metrics
	batch   int
	outbox  *outbox
	// gate serializes writes and enforces the size limit; pruneDB is the pruner's
	// connection (nil without retention limits).
	gate      *writeGate
	retention Retention
	pruneDB   *sql.DB

	insInference, insDeadLetter *sql.Stmt
	selStored, selConflict      *sql.Stmt
	upsDevices                  *multiRow
	// spanArgs holds the parameters of writeSpans' statements between transactions.
	spanArgs []any
	// rows inserts the runs of readings known to be new; pending is the run being
	// gathered by commitTx.
	rows    *rowInserter
	pending []*pipeline.Record

	// latestTs is, per device seen since the start, an upper bound of the latest event
	// time (ns) stored: a reading after it cannot conflict with a stored one, so only a
	// reading at or before it costs a conflict lookup. Only Run's goroutine uses it.
	latestTs map[string]int64
	// byReading is set when a multi-row insert met a reading already stored (errNotNew):
	// the latest times were wrong, so the retried transaction stores its readings one
	// by one, and clears it once committed.
	byReading bool
	// spans are the event times (ns) of the readings the transaction under way has
	// stored, per device: commitTx writes them to the devices table before it commits.
	spans map[string]tsSpan
}

// tsSpan is a closed range of event times, ns since the Unix epoch.
type tsSpan struct{ first, last int64 }

// widen adds ts to the device's span in s.spans.
func (s *Sink) widen(device string, ts int64) {
	sp, ok := s.spans[device]
	if !ok {
		s.spans[device] = tsSpan{ts, ts}
		return
	}
	s.spans[device] = tsSpan{min(sp.first, ts), max(sp.last, ts)}
}

// writeSpans upserts the transaction's device spans (s.spans) into devices within tx,
// with multi-row statements.
func (s *Sink) writeSpans(ctx context.Context, tx *sql.Tx) error {
	args := s.spanArgs[:0]
	for dev, sp := range s.spans {
		args = append(args, dev, sp.first, sp.last)
	}
	s.spanArgs = args
	defer clear(s.spanArgs)
	err := s.upsDevices.runs(ctx, tx, len(args)/3, func(st *sql.Stmt, from, to int) error {
		_, err := st.ExecContext(ctx, args[3*from:3*to]...)
		return err
	})
	if err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	return nil
}

// commitCounts are the records of a committed batch that were not newly stored, and the
// conflicting readings among those that were.
type commitCounts struct {
	// dups are redelivered records the store already held (not stored again).
	dups int
	// conflicts are readings newly stored whose device and event time already had a
	// stored reading with different values.
	conflicts int
}

// New opens (creating when missing, mode 0600) and migrates the database at opts.Path and
// returns a sink writing to it, with opts.Retention applied while it runs (see
// setupRetention). env supplies the Summarizer, Hooks, Metrics, Site, Fields and Log; a
// nil Metrics or Log is replaced by a private one. Errors: an invalid option, a file that
// cannot be created or opened, a schema newer than this package, or a size limit too
// small for the database's page size.
func New(opts Options, env *pipeline.Env) (*Sink, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if env == nil {
		env = &pipeline.Env{}
	}
	s := &Sink{path: opts.Path, env: env, log: env.Log, metrics: env.Metrics, batch: opts.Batch, retention: opts.Retention, latestTs: map[string]int64{}, spans: map[string]tsSpan{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.metrics == nil {
		s.metrics = pipeline.NewMetrics()
	}
	ctx := context.Background()
	db, err := openWriter(ctx, opts.Path, opts.Synchronous, opts.BusyTimeout, s.log)
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := recordFields(ctx, db, env.Fields); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&s.insInference, insertInference}, {&s.insDeadLetter, insertDeadLetter}, {&s.selStored, selectStored}, {&s.selConflict, selectConflict}} {
		if *p.stmt, err = db.PrepareContext(ctx, p.sql); err != nil {
			db.Close()
			return nil, err
		}
	}
	if s.rows, err = newRowInserter(ctx, db); err != nil {
		s.Close()
		return nil, err
	}
	if s.upsDevices, err = prepareMultiRow(ctx, db, upsertDevices, upsertDevicesTail); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.setupRetention(ctx, opts); err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", opts.Path, err)
	}
	s.outbox = &outbox{db: db, gate: s.gate, metrics: s.metrics, notify: make(chan struct{}, 1),
		limit: opts.Retention.OutboxMaxRows, full: opts.Retention.OutboxFull}
	s.outbox.refreshGauges(ctx)
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
	for _, st := range []*sql.Stmt{s.insInference, s.insDeadLetter, s.selStored, s.selConflict} {
		if st != nil {
			st.Close()
		}
	}
	if s.rows != nil {
		s.rows.close()
	}
	if s.upsDevices != nil {
		s.upsDevices.close()
	}
	if s.pruneDB != nil {
		s.pruneDB.Close()
	}
	return s.db.Close()
}

// Run first starts retention (startRetention: a database created before it is converted
// once, then the pruner runs until Run returns) and rebuilds the open windows from the
// database (see restore), then commits the records read from in with dynamic batching:
// it blocks for one record, then takes whatever else is already waiting, up to
// Options.Batch records, without waiting for more. Per batch it runs one transaction,
// and only after the commit does it call Done on every record (a redelivered duplicate
// too, since it is stored). A failed transaction is retried with exponential backoff and
// its records are not acked meanwhile. When in is closed it writes the summaries of
// Summarizer.Drain and returns nil; when ctx is cancelled it returns ctx's error, leaving
// uncommitted records unacked.
func (s *Sink) Run(ctx context.Context, in <-chan *pipeline.Record) error {
	stop, err := s.startRetention(ctx)
	if err != nil {
		return fmt.Errorf("store: retention: %w", err)
	}
	defer stop()
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
		for _, part := range s.parts(batch) {
			if err := s.process(ctx, part); err != nil {
				return err
			}
		}
		if !open {
			return s.drain(ctx)
		}
	}
}

// process commits one part of a batch, acks it and summarizes what it newly stored.
func (s *Sink) process(ctx context.Context, part batchPart) error {
	batch := part.recs
	committed, n, err := retry(ctx, s.log, s.metrics.StoreHealthy, "commit readings", len(batch), func() ([]*pipeline.Record, commitCounts, error) {
		return s.commitPages(ctx, batch, part.pages)
	})
	if err != nil {
		return err
	}
	dups := n.dups
	s.metrics.Conflicts.Add(float64(n.conflicts))
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

// commitPages stores one batch in one transaction (commitTx), once the writeGate admits
// it as modifying at most need pages (see recordsEstimate; unused without a size limit).
func (s *Sink) commitPages(ctx context.Context, batch []*pipeline.Record, need int64) (committed []*pipeline.Record, n commitCounts, err error) {
	err = s.gate.do(ctx, s.db, need, func() error {
		var e error
		committed, n, e = s.commitTx(ctx, batch)
		return e
	})
	return committed, n, err
}

// commitTx stores one batch in one transaction: live records into inferences (INSERT OR
// IGNORE: a redelivered reading is a no-op), dead letters into dead_letters. When the
// Summarizer is a pipeline.LateChecker, each live record is first checked, in batch
// order, and a late one is dead-lettered with the checker's reason (unless it is a
// redelivery of a reading stored before its window closed: a duplicate). It returns the
// records newly stored (live and dead, in batch order), the number of duplicates and of
// conflicting readings (see commitCounts). A reading after the latest one stored for its
// device (latestTs; the usual case) can be neither a duplicate nor a conflict: such
// readings are inserted in runs, with multi-row statements (rowInserter), the others one
// by one.
func (s *Sink) commitTx(ctx context.Context, batch []*pipeline.Record) (committed []*pipeline.Record, n commitCounts, err error) {
	start := time.Now()
	now := start.UnixNano()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, n, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	ins := tx.StmtContext(ctx, s.insInference)
	dl := tx.StmtContext(ctx, s.insDeadLetter)
	stored := tx.StmtContext(ctx, s.selStored)
	conflict := tx.StmtContext(ctx, s.selConflict)
	lc, _ := s.env.Summarizer.(pipeline.LateChecker)
	var vals []byte
	s.pending = s.pending[:0]
	clear(s.spans)
	for _, r := range batch {
		if !r.Dead() && (r.Device == "" || r.Time.IsZero()) {
			r.Fail("store: reading without a device or an event time (does the pipeline start with a decode operator?)")
		}
		if lc != nil && !r.Dead() {
			if reason, late := lc.CheckLate(r); late {
				if e := s.flush(ctx, tx, now); e != nil { // the lookup must see the run
					return nil, n, e
				}
				var had bool
				if e := stored.QueryRowContext(ctx, r.Time.UnixNano(), r.Device, valuesHash(r.Values)).Scan(&had); e != nil {
					return nil, n, fmt.Errorf("late reading: %w", e)
				}
				if had {
					n.dups++ // redelivered after its window closed: stored (and summarised) before
					continue
				}
				r.Fail(reason)
			}
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
				return nil, n, fmt.Errorf("dead letter: %w", e)
			}
			added, e := res.RowsAffected()
			if e != nil {
				return nil, n, e
			}
			if added == 0 {
				n.dups++ // a redelivered dead letter: stored once
				continue
			}
			committed = append(committed, r)
			continue
		}
		ts := r.Time.UnixNano()
		latest, known := s.latestTs[r.Device]
		if !known { // the first reading of the device since the start
			var last sql.NullInt64
			if e := tx.QueryRowContext(ctx, selectLatestTs, r.Device).Scan(&last); e != nil {
				return nil, n, fmt.Errorf("latest reading: %w", e)
			}
			latest, known = last.Int64, last.Valid
		}
		if !s.byReading && (!known || ts > latest) {
			// After every reading stored for the device: not stored yet, and no stored
			// reading at its time to conflict with. It joins the run of new readings
			// that flush inserts together.
			s.latestTs[r.Device] = ts
			s.widen(r.Device, ts)
			s.pending = append(s.pending, r)
			committed = append(committed, r)
			continue
		}
		// At or before the device's latest reading: a redelivery or a reading out of
		// order, looked up one by one (after the run before it is stored).
		if e := s.flush(ctx, tx, now); e != nil {
			return nil, n, e
		}
		vh := valuesHash(r.Values)
		vals = appendValues(vals[:0], r.Values)
		res, e := ins.ExecContext(ctx, r.Device, ts, vh, string(vals),
			nullScore(r.Score), r.Anomaly, nullString(r.Label), r.Model, r.Topic, unixNano(r.Received), now)
		if e != nil {
			return nil, n, fmt.Errorf("inference: %w", e)
		}
		added, e := res.RowsAffected()
		if e != nil {
			return nil, n, e
		}
		if added == 0 {
			n.dups++
			continue
		}
		var had bool
		if e := conflict.QueryRowContext(ctx, ts, r.Device, vh).Scan(&had); e != nil {
			return nil, n, fmt.Errorf("conflicting reading: %w", e)
		}
		if had {
			n.conflicts++
		}
		s.widen(r.Device, ts)
		if !known || ts > latest {
			latest = ts
		}
		s.latestTs[r.Device] = latest
		committed = append(committed, r)
	}
	if err = s.flush(ctx, tx, now); err != nil {
		return nil, n, err
	}
	if err = s.writeSpans(ctx, tx); err != nil {
		return nil, n, err
	}
	if err = tx.Commit(); err != nil {
		return nil, n, err
	}
	s.byReading = false
	s.metrics.CommitSeconds.Observe(time.Since(start).Seconds())
	return committed, n, nil
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
