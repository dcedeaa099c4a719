package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/edgepipe/edgepipe/pipeline"
)

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2

// setupRetention prepares opts.Retention on a newly opened sink: the writeGate; with a
// size limit, its sizeBudget and the write-ahead log settings of the sink's connection
// (wal_autocheckpoint = checkpointFrames, journal_size_limit = half the log's share, so
// that SQLite truncates a log it has grown past it); and, when any limit is set, the
// pruner's own connection (busy timeout pruneCheckpointBusy).
func (s *Sink) setupRetention(ctx context.Context, opts Options) error {
	s.gate = &writeGate{path: s.path, metrics: s.metrics, log: s.log}
	r := opts.Retention
	if r.MaxSize > 0 {
		var page int64
		if err := s.db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&page); err != nil {
			return err
		}
		b := newSizeBudget(r.MaxSize, page)
		if b.low <= 0 {
			return fmt.Errorf("max_size %s is too small for the database's %d-byte pages", humanize.IBytes(uint64(r.MaxSize)), page)
		}
		for _, q := range []string{
			fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, b.checkpointFrames()),
			fmt.Sprintf(`PRAGMA journal_size_limit = %d`, b.wal/2),
		} {
			if _, err := s.db.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		s.gate.budget = &b
	}
	if r.limited() {
		db, err := openWriter(ctx, s.path, opts.Synchronous, pruneCheckpointBusy, s.log)
		if err != nil {
			return err
		}
		s.pruneDB = db
		if s.gate.budget != nil {
			s.gate.checkpointer = db
		}
	}
	s.gate.sample()
	return nil
}

// late reports whether the summarizer may dead-letter late readings in the sink's
// transaction (recordsEstimate).
func (s *Sink) late() bool {
	_, ok := s.env.Summarizer.(pipeline.LateChecker)
	return ok
}

// parts splits a batch for the size limit (split with the budget's chunkPages); without
// one it is a single part.
func (s *Sink) parts(batch []*pipeline.Record) []batchPart {
	if s.gate.budget == nil {
		return []batchPart{{recs: batch}}
	}
	return split(batch, s.late(), s.gate.budget.page, s.gate.budget.chunkPages())
}

// startRetention converts a database created before retention (convertAutoVacuum),
// starts the pruner (when any limit is set), and queues the summaries waiting for the
// outbox that fit. The returned stop ends the pruner and waits for it.
func (s *Sink) startRetention(ctx context.Context) (stop func(), err error) {
	stop = func() {}
	if s.pruneDB != nil {
		p := newPruner(s.pruneDB, s.path, s.gate, s.retention, s.metrics, s.log)
		if s.gate.budget != nil {
			if err := p.convertAutoVacuum(ctx); err != nil {
				return stop, err
			}
		}
		pctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { p.run(pctx) })
		s.gate.pruner.Store(p)
		stop = func() {
			s.gate.pruner.Store(nil)
			cancel()
			wg.Wait()
		}
	}
	for {
		var q queueResult
		err := s.gate.do(ctx, s.db, queuePages(0, 0, s.gate.page()), func() (err error) {
			tx, err := s.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if q, err = s.outbox.queue(ctx, tx, queueRows, queueBytes); err != nil {
				tx.Rollback()
				return err
			}
			return tx.Commit()
		})
		if err != nil {
			stop()
			return func() {}, fmt.Errorf("queue waiting summaries: %w", err)
		}
		s.outbox.queued(ctx, q)
		if q.queued == 0 {
			return stop, nil
		}
	}
}

// convertAutoVacuum turns a database created before retention existed (auto_vacuum =
// NONE: its file never shrinks, freed pages are only reused) into auto_vacuum =
// INCREMENTAL with a one-time VACUUM, after pruning it to the size budget's low mark so
// that the rewrite is as small as it can be. The VACUUM rewrites the whole database: it
// needs free disk space for a temporary copy and a write-ahead log of the kept data's
// size, and nothing is written meanwhile. A failed VACUUM is logged and the store works
// on without shrinking its file; other errors are returned.
func (p *pruner) convertAutoVacuum(ctx context.Context) error {
	var mode int
	if err := p.db.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return err
	}
	if mode == autoVacuumIncremental {
		p.incremental = true
		return nil
	}
	if _, err := p.bySize(ctx, 0); err != nil {
		return err
	}
	main, wal, err := files(p.path)
	if err != nil {
		return err
	}
	p.log.Info("store: converting the database for retention (auto_vacuum = INCREMENTAL): a one-time VACUUM",
		"size", humanize.IBytes(uint64(main+wal)))
	start := time.Now()
	err = p.gate.exclusive(func() error {
		if _, err := p.db.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
			return err
		}
		if _, err := p.db.ExecContext(ctx, `VACUUM`); err != nil {
			return err
		}
		return checkpoint(ctx, p.db)
	})
	if err != nil {
		p.log.Warn("store: VACUUM failed; pruned space is reused but the file does not shrink until it succeeds (at the next start)", "err", err)
		return nil
	}
	p.incremental = true
	main, wal, err = files(p.path)
	p.log.Info("store: database converted", "size", humanize.IBytes(uint64(main+wal)), "took", time.Since(start).Round(time.Millisecond))
	return err
}
