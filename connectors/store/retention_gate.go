package store

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// errFull is returned by a write that does not fit under the size limit while no pruner
// runs to make room.
var errFull = errors.New("the database is at its size limit (max_size) and retention is not running")

// writeGate serializes the store's write transactions in this process, those of the
// sink's connection (readings, summaries, outbox) and those of the pruner's, so that they
// take turns through a mutex instead of SQLite's busy handler (which sleeps 1, 2, 5 … ms
// between tries). With a size limit it admits a write only when sizeBudget.fits says the
// database stays within the limit, and otherwise waits for the pruner to make room.
// After each write it sets edgepipe_db_size_bytes.
type writeGate struct {
	mu      sync.Mutex
	path    string
	budget  *sizeBudget // nil: no size limit
	metrics *pipeline.Metrics
	log     *slog.Logger
	// checkpointer is the connection (the pruner's, with a short busy timeout) on which
	// a write that does not fit only because of the write-ahead log checkpoints it
	// first; nil without a size limit.
	checkpointer *sql.DB
	// pruner is the running pruner, nil when none runs.
	pruner atomic.Pointer[pruner]
	// last is the usage measured before the latest write admitted by measuring, grown
	// the pages written through do since (an upper bound of each), at the time of that
	// measurement; valid is false after a write through exclusive. See bound.
	last  dbUsage
	grown int64
	at    time.Time
	valid bool
}

// remeasure is how long do admits writes on the bound of its last measurement before
// it measures again (PRAGMA page_count and freelist_count cost a query: at 10,000
// readings/s, in small transactions, 7 % of the pipeline's CPU time when run before
// every write).
const remeasure = time.Second

// bound returns an upper bound of the database's usage now, from the last measurement
// and the pages written through do since: each write of at most n pages adds at most n
// pages to page_count (none from the freelist counted) and n frames to the -wal file,
// and an automatic checkpoint grows the main file only up to page_count pages, which
// sizeBudget.fits already assumes. ok is false when there is no recent measurement.
func (g *writeGate) bound() (u dbUsage, ok bool) {
	if !g.valid || time.Since(g.at) >= remeasure {
		return dbUsage{}, false
	}
	u = g.last
	u.pages += g.grown
	u.free = 0
	u.wal += g.grown * (g.budget.page + walFrameHeader)
	return u, true
}

// waitLog is how long a write waits for room before the wait is logged (short waits,
// while the pruner catches up with a fast ingest near a small limit, are normal).
const waitLog = time.Second

// do runs write, which runs one transaction on db modifying at most need pages, holding
// the gate. With a size limit it first measures the database through db; when the write
// does not fit only because of the write-ahead log, it checkpoints and truncates the log
// (as SQLite's automatic checkpoint would, a little earlier); when it still does not
// fit, it releases the gate, asks the pruner for room and tries again after each of the
// pruner's passes, until it fits or ctx ends (ctx's error); a wait longer than waitLog
// is logged. Without a running pruner a write that does not fit returns errFull. It
// returns write's error.
func (g *writeGate) do(ctx context.Context, db *sql.DB, need int64, write func() error) error {
	var waitStart time.Time
	logged := false
	for {
		g.mu.Lock()
		if g.budget == nil {
			err := write()
			g.sample()
			g.mu.Unlock()
			return err
		}
		if u, ok := g.bound(); ok && g.budget.fits(u, need) {
			// Fits even if every write since the measurement took all its pages.
			err := write()
			g.grown += need
			g.sample()
			g.mu.Unlock()
			g.kick(u, need)
			return err
		}
		u, err := measure(ctx, db, g.path)
		if err == nil && !g.budget.fits(u, need) && u.wal > 0 && g.budget.fits(dbUsage{main: u.main, pages: u.pages, free: u.free}, need) {
			if err = checkpoint(ctx, g.checkpointer); err == nil {
				u, err = measure(ctx, db, g.path)
			}
		}
		if err != nil {
			g.mu.Unlock()
			return err
		}
		if g.budget.fits(u, need) {
			err := write()
			g.last, g.grown, g.at, g.valid = u, need, time.Now(), true
			g.sample()
			g.mu.Unlock()
			if logged {
				g.log.Info("store: retention made room; writing again", "waited", time.Since(waitStart).Round(time.Millisecond))
			}
			g.kick(u, need)
			return err
		}
		g.mu.Unlock()
		p := g.pruner.Load()
		if p == nil {
			return errFull
		}
		if waitStart.IsZero() {
			waitStart = time.Now()
		}
		if !logged && time.Since(waitStart) >= waitLog {
			logged = true
			g.log.Warn("store: the database is at its size limit; waiting for retention to prune (nothing is acked meanwhile)",
				"max_size", g.budget.max, "size", u.main+u.wal, "need_pages", need)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.kick(need):
		}
	}
}

// kick wakes the pruner when a write of need pages on usage u passes the high mark.
func (g *writeGate) kick(u dbUsage, need int64) {
	if p := g.pruner.Load(); p != nil && g.budget.used(u)+need*g.budget.page > g.budget.high {
		p.kick(0)
	}
}

// page returns the database's page size with a size limit, SQLite's default (4096)
// without one (when need is not used).
func (g *writeGate) page() int64 {
	if g.budget == nil {
		return 4096
	}
	return g.budget.page
}

// exclusive runs write holding the gate, without a size check: the pruner's deletes,
// checkpoints and vacuums, which make room.
func (g *writeGate) exclusive(write func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := write()
	g.valid = false // a checkpoint or vacuum changes what bound assumes
	g.sample()
	return err
}

// sample sets edgepipe_db_size_bytes to the size of the database file and its -wal file.
func (g *writeGate) sample() {
	if main, wal, err := files(g.path); err == nil {
		g.metrics.DBSizeBytes.Set(float64(main + wal))
	}
}
