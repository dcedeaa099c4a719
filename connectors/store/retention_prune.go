package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

const (
	// pruneBatch is the most rows one pruning transaction deletes. With a size limit the
	// pruner sizes its batches so that one writes at most a quarter of the write-ahead
	// log's share, starting from pruneFirstBatch rows.
	pruneBatch      = 1000
	pruneFirstBatch = 64
	// stuckRetry is how long the pruner waits before trying again when a write waits
	// for room and nothing more could be pruned.
	stuckRetry = time.Second
	// pruneCheckpointBusy bounds how long the pruner's checkpoints wait for another
	// process's readers, while they hold up the store's writes.
	pruneCheckpointBusy = 100 * time.Millisecond
	// maxYield caps the pause between two batches of the age and row limits.
	maxYield = 50 * time.Millisecond
)

// Pruning statements. ?1 is the batch size, ?2 the cutoff time (ns). Readings and dead
// letters are taken in id (storage) order from the head of the table, so that a pass
// never scans the whole table; summaries by their created index. notLatest keeps each
// device's latest summary, where a restart resumes summarising.
const (
	notLatest         = `EXISTS (SELECT 1 FROM summaries n WHERE n.device = s.device AND n.start_ms > s.start_ms)`
	pruneInferenceAge = `DELETE FROM inferences WHERE id IN
		(SELECT id FROM (SELECT id, committed FROM inferences ORDER BY id LIMIT ?1) WHERE committed < ?2)`
	pruneDeadAge = `DELETE FROM dead_letters WHERE id IN
		(SELECT id FROM (SELECT id, at FROM dead_letters ORDER BY id LIMIT ?1) WHERE at < ?2)`
	pruneSummaryAge = `DELETE FROM summaries WHERE id IN
		(SELECT id FROM summaries s WHERE created < ?2 AND ` + notLatest + ` ORDER BY created LIMIT ?1)`
	pruneInferenceOldest = `DELETE FROM inferences WHERE id IN (SELECT id FROM inferences ORDER BY id LIMIT ?1)`
	pruneDeadOldest      = `DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?1)`
	pruneSummaryOldest   = `DELETE FROM summaries WHERE id IN (SELECT id FROM summaries s WHERE ` + notLatest + ` ORDER BY id LIMIT ?1)`
)

// Reasons of edgepipe_pruned_rows_total.
const (
	reasonAge  = "age"
	reasonRows = "rows"
	reasonSize = "size"
)

// pruner applies a Retention in its own goroutine, on its own connection, in small
// transactions that take turns with the sink's through the writeGate: the age and row
// limits every Retention.Interval, the size limit also whenever a write nears it or
// waits for room.
type pruner struct {
	db     *sql.DB
	path   string
	gate   *writeGate
	ret    Retention
	budget *sizeBudget // nil: no size limit
	m      *pipeline.Metrics
	log    *slog.Logger

	kicks chan struct{}
	// rows is the size of the next pruning transaction; framesPerRow the write-ahead
	// log frames the last one wrote per row (with a size limit). Only run's goroutine
	// uses them.
	rows         int
	framesPerRow float64
	// incremental is set when the database's auto_vacuum is INCREMENTAL (see
	// convertAutoVacuum): only then can free pages be given back.
	incremental bool

	mu sync.Mutex
	// demand is the most pages a write waiting for room needs; progress is closed (and
	// replaced) after each pruning transaction and at the end of each pass; stuck is set
	// while a waiting write does not fit and a pass could change nothing.
	demand   int64
	progress chan struct{}
	stuck    bool
}

func newPruner(db *sql.DB, path string, gate *writeGate, ret Retention, m *pipeline.Metrics, log *slog.Logger) *pruner {
	p := &pruner{db: db, path: path, gate: gate, ret: ret, budget: gate.budget, m: m, log: log,
		kicks: make(chan struct{}, 1), rows: pruneBatch, framesPerRow: 1, progress: make(chan struct{})}
	if p.budget != nil {
		p.rows = pruneFirstBatch
	}
	return p
}

// kick asks for a size pass; need > 0 is the pages a write waiting for room needs. It
// returns a channel closed after the pruner's next transaction or the end of its pass,
// when the write may fit.
func (p *pruner) kick(need int64) <-chan struct{} {
	p.mu.Lock()
	p.demand = max(p.demand, need)
	done := p.progress
	p.mu.Unlock()
	select {
	case p.kicks <- struct{}{}:
	default:
	}
	return done
}

// signal wakes the writes waiting for room (see kick).
func (p *pruner) signal() {
	p.mu.Lock()
	close(p.progress)
	p.progress = make(chan struct{})
	p.mu.Unlock()
}

// run prunes until ctx ends: a full pass (every limit) at once and every
// Retention.Interval, a size pass on each kick.
func (p *pruner) run(ctx context.Context) {
	tick := time.NewTicker(p.ret.interval())
	defer tick.Stop()
	full := true
	for {
		p.mu.Lock()
		demand := p.demand
		p.demand = 0
		p.mu.Unlock()
		progressed, err := p.pass(ctx, full, demand)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("store: retention pass failed; retrying at the next one", "err", err)
		}
		stuck := false
		if demand > 0 && !progressed && err == nil {
			u, err := measure(ctx, p.db, p.path)
			stuck = err == nil && !p.budget.fits(u, demand)
		}
		p.signal()
		p.mu.Lock()
		logStuck := stuck && !p.stuck
		p.stuck = stuck
		p.mu.Unlock()
		if logStuck {
			p.m.StoreHealthy.Set(0)
			p.log.Error("store: the database is at its size limit and nothing more can be pruned (the outbox, each device's latest summary, or a reader holding the write-ahead log); ingest waits",
				"max_size", p.budget.max)
		}
		if stuck {
			select {
			case <-ctx.Done():
				return
			case <-time.After(stuckRetry):
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			full = true
		case <-p.kicks:
			full = false
		}
	}
}

// pass applies the age and row limits when full, and the size limit, making room for a
// write of demand pages. It reports whether it deleted, vacuumed or checkpointed
// anything.
func (p *pruner) pass(ctx context.Context, full bool, demand int64) (bool, error) {
	progressed := false
	if full {
		now := time.Now()
		for _, a := range []struct {
			table, stmt string
			age         time.Duration
		}{
			{"inferences", pruneInferenceAge, p.ret.ReadingsMaxAge},
			{"dead_letters", pruneDeadAge, p.ret.DeadLettersMaxAge},
			{"summaries", pruneSummaryAge, p.ret.SummariesMaxAge},
		} {
			if a.age <= 0 {
				continue
			}
			n, err := p.drain(ctx, a.table, reasonAge, a.stmt, -1, now.Add(-a.age).UnixNano())
			if err != nil {
				return progressed, err
			}
			progressed = progressed || n > 0
		}
		for _, r := range []struct {
			table, stmt string
			limit       int
		}{
			{"dead_letters", pruneDeadOldest, p.ret.DeadLettersMaxRows},
			{"summaries", pruneSummaryOldest, p.ret.SummariesMaxRows},
		} {
			if r.limit <= 0 {
				continue
			}
			var count int64
			if err := p.db.QueryRowContext(ctx, `SELECT count(*) FROM `+r.table).Scan(&count); err != nil {
				return progressed, err
			}
			if count <= int64(r.limit) {
				continue
			}
			n, err := p.drain(ctx, r.table, reasonRows, r.stmt, count-int64(r.limit))
			if err != nil {
				return progressed, err
			}
			progressed = progressed || n > 0
		}
	}
	if p.budget == nil {
		return progressed, nil
	}
	sized, err := p.bySize(ctx, demand)
	return progressed || sized, err
}

// drain runs stmt, one batch per transaction, until it deletes nothing or, when
// limit ≥ 0, limit rows are gone. After each batch it pauses as long as the batch took
// (at most maxYield), so that the store's writes, which wait while a batch runs, get at
// least half the time. It returns the rows deleted.
func (p *pruner) drain(ctx context.Context, table, reason, stmt string, limit int64, args ...any) (int64, error) {
	var total int64
	for limit < 0 || total < limit {
		n := int64(p.rows)
		if limit >= 0 {
			n = min(n, limit-total)
		}
		start := time.Now()
		got, err := p.deleteBatch(ctx, table, reason, stmt, n, args...)
		if err != nil || got == 0 {
			return total, err
		}
		total += got
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(min(time.Since(start), maxYield)):
		}
	}
	return total, nil
}

// deleteBatch runs stmt deleting at most n rows (its ?1) in one transaction holding
// the gate, and counts the rows deleted in edgepipe_pruned_rows_total{table, reason} and
// the time held in edgepipe_prune_seconds. With a size limit it first checkpoints the
// write-ahead log into the database file and truncates it (unless another process's
// reader holds it), skips the batch when its log frames would not fit, unless the
// database is already over its limit (pruning is how it gets back), and sizes the next
// batch from the frames this one wrote.
func (p *pruner) deleteBatch(ctx context.Context, table, reason, stmt string, n int64, args ...any) (int64, error) {
	var deleted int64
	err := p.gate.exclusive(func() error {
		start := time.Now()
		defer func() { p.m.PruneSeconds.Observe(time.Since(start).Seconds()) }()
		var before dbUsage
		if p.budget != nil {
			if err := checkpoint(ctx, p.db); err != nil {
				return err
			}
			u, err := measure(ctx, p.db, p.path)
			if err != nil {
				return err
			}
			frames := int64(p.framesPerRow*float64(n)) + 1
			if !p.budget.fitsLog(u, frames) && p.budget.bound(u) <= p.budget.max {
				return nil
			}
			before = u
		}
		res, err := p.db.ExecContext(ctx, stmt, append([]any{n}, args...)...)
		if err != nil {
			return fmt.Errorf("prune %s: %w", table, err)
		}
		if deleted, err = res.RowsAffected(); err != nil {
			return err
		}
		if p.budget != nil && deleted > 0 {
			_, wal, err := files(p.path)
			if err != nil {
				return err
			}
			if grew := wal - before.wal; grew > 0 {
				p.framesPerRow = float64(grew) / float64(p.budget.page+walFrameHeader) / float64(deleted)
				target := float64(p.budget.wal/4) / float64(p.budget.page+walFrameHeader)
				p.rows = int(min(max(target/p.framesPerRow, 16), pruneBatch))
			}
		}
		return nil
	})
	if deleted > 0 {
		p.m.PrunedRows.WithLabelValues(table, reason).Add(float64(deleted))
		p.signal()
	}
	return deleted, err
}

// checkpoint copies the write-ahead log into the database file and truncates it
// (PRAGMA wal_checkpoint(TRUNCATE)) through db. A reader of another process can keep it
// from finishing (after db's busy timeout); the log then keeps its size. The caller
// holds the writeGate.
func checkpoint(ctx context.Context, db *sql.DB) error {
	var busy, logFrames, done int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// bySize keeps the database under Retention.MaxSize. It runs when the live pages exceed
// the budget's high mark, a write waits for demand pages, or the database has more
// pages than its share: it deletes the oldest readings and dead letters (whichever is
// older first), then the oldest summaries but each device's latest, until the live pages
// are under the low mark (and leave room for demand); gives free pages back to the file
// system (PRAGMA incremental_vacuum) until the pages fit their share; and, for a
// waiting write, truncates the write-ahead log. It reports whether it changed anything.
func (p *pruner) bySize(ctx context.Context, demand int64) (bool, error) {
	b := p.budget
	u, err := measure(ctx, p.db, p.path)
	if err != nil {
		return false, err
	}
	if b.used(u) <= b.high && demand == 0 && u.pages*b.page <= b.data {
		return false, nil
	}
	target := b.low
	if demand > 0 {
		target = min(target, b.data-demand*b.page)
	}
	progressed := false
	for b.used(u) > target {
		n, err := p.deleteOldest(ctx)
		if err != nil {
			return progressed, err
		}
		if n == 0 {
			break
		}
		progressed = true
		if u, err = measure(ctx, p.db, p.path); err != nil {
			return progressed, err
		}
	}
	for p.incremental && u.pages*b.page > b.data && u.free > 0 {
		chunk := max(b.wal/4/(b.page+walFrameHeader)/3, 1)
		k := min(u.free, u.pages-b.data/b.page, chunk)
		err := p.gate.exclusive(func() error {
			if err := checkpoint(ctx, p.db); err != nil {
				return err
			}
			_, err := p.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, k))
			return err
		})
		if err != nil {
			return progressed, fmt.Errorf("incremental vacuum: %w", err)
		}
		before := u.pages
		if u, err = measure(ctx, p.db, p.path); err != nil {
			return progressed, err
		}
		if u.pages >= before {
			break
		}
		progressed = true
		p.signal()
	}
	if demand > 0 || u.main > u.pages*b.page {
		if err := p.gate.exclusive(func() error { return checkpoint(ctx, p.db) }); err != nil {
			return progressed, err
		}
		after, err := measure(ctx, p.db, p.path)
		if err != nil {
			return progressed, err
		}
		progressed = progressed || after.wal < u.wal || after.main < u.main
	}
	return progressed, nil
}

// deleteOldest deletes one batch of the oldest rows for the size limit: readings or dead
// letters, whichever table's oldest row was stored first, then summaries (but each
// device's latest). It returns the rows deleted, 0 when nothing is left to prune.
func (p *pruner) deleteOldest(ctx context.Context) (int64, error) {
	var inf, dead sql.NullInt64
	if err := p.db.QueryRowContext(ctx, `SELECT (SELECT committed FROM inferences ORDER BY id LIMIT 1),
		(SELECT at FROM dead_letters ORDER BY id LIMIT 1)`).Scan(&inf, &dead); err != nil {
		return 0, err
	}
	table, stmt := "inferences", pruneInferenceOldest
	switch {
	case dead.Valid && (!inf.Valid || dead.Int64 < inf.Int64):
		table, stmt = "dead_letters", pruneDeadOldest
	case !inf.Valid:
		table, stmt = "summaries", pruneSummaryOldest
	}
	return p.deleteBatch(ctx, table, reasonSize, stmt, int64(p.rows))
}
