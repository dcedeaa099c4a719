package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/edgepipe/edgepipe/pipeline"
)

// MsgID returns a summary's outbox and deduplication id, `<site>/<device>/<start ms>`
// (the Nats-Msg-Id header).
func MsgID(s pipeline.Summary) string {
	return s.Site + "/" + s.Device + "/" + strconv.FormatInt(s.StartMs, 10)
}

// summarize writes closed-window summaries and queues them in the outbox (within its
// limit, see outbox.queue), then signals the outbox, updates the metrics and calls
// Hooks.Summarized. A failed transaction is retried with backoff until ctx is cancelled;
// summaries lost that way are rebuilt from the stored readings at the next start.
func (s *Sink) summarize(ctx context.Context, sums []pipeline.Summary) error {
	if len(sums) == 0 {
		return nil
	}
	payloads := make([][]byte, 0, len(sums))
	kept := sums[:0:0]
	for _, sum := range sums {
		if sum.Site == "" {
			sum.Site = s.env.Site
		}
		b, err := msgpack.Marshal(&sum)
		if err != nil {
			s.log.Error("store: cannot encode summary; dropped", "device", sum.Device, "start_ms", sum.StartMs, "err", err)
			continue
		}
		kept = append(kept, sum)
		payloads = append(payloads, b)
	}
	type result struct {
		written []pipeline.Summary
		q       queueResult
	}
	r, _, err := retry(ctx, s.log, s.metrics.StoreHealthy, "write summaries", len(kept), func() (result, struct{}, error) {
		w, q, err := s.writeSummaries(ctx, kept, payloads)
		return result{w, q}, struct{}{}, err
	})
	if err != nil {
		return err
	}
	s.outbox.queued(ctx, r.q)
	if len(r.written) == 0 {
		return nil
	}
	s.metrics.OutboxRefused.Add(float64(min(len(r.written), r.q.waiting)))
	s.metrics.Summaries.Add(float64(len(r.written)))
	if h := s.env.Hooks.Summarized; h != nil {
		h(r.written)
	}
	return nil
}

// writeSummaries inserts the summaries (msgpack payloads alongside), marked as waiting
// for the outbox, and queues the waiting summaries, oldest first (outbox.queue, which
// can queue all of these), in one transaction. It returns the summaries newly written
// (a window summarised twice, rebuilt after a restart, is ignored the second time) and
// what the queue step did.
func (s *Sink) writeSummaries(ctx context.Context, sums []pipeline.Summary, payloads [][]byte) (written []pipeline.Summary, q queueResult, err error) {
	var bytes int64
	for _, p := range payloads {
		bytes += int64(len(p))
	}
	err = s.gate.do(ctx, s.db, queuePages(len(sums), bytes, s.gate.page()), func() error {
		written, q, err = s.writeSummariesTx(ctx, sums, payloads, bytes)
		return err
	})
	return written, q, err
}

// writeSummariesTx is writeSummaries' transaction; bytes is the payloads' total size.
func (s *Sink) writeSummariesTx(ctx context.Context, sums []pipeline.Summary, payloads [][]byte, bytes int64) (written []pipeline.Summary, q queueResult, err error) {
	start := time.Now()
	now := start.UnixNano()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, q, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	ins, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO summaries (device, start_ms, end_ms, count, payload, created, queued) VALUES (?, ?, ?, ?, ?, ?, 0)`)
	if err != nil {
		return nil, q, err
	}
	for i, sum := range sums {
		res, err := ins.ExecContext(ctx, sum.Device, sum.StartMs, sum.EndMs, sum.Count, payloads[i], now)
		if err != nil {
			return nil, q, fmt.Errorf("summary: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, q, err
		}
		if n > 0 {
			written = append(written, sum)
		}
	}
	if q, err = s.outbox.queue(ctx, tx, len(written)+queueRows, bytes+queueBytes); err != nil {
		return nil, q, err
	}
	if err = tx.Commit(); err != nil {
		return nil, q, err
	}
	s.metrics.CommitSeconds.Observe(time.Since(start).Seconds())
	return written, q, nil
}
