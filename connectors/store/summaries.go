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

// summarize writes closed-window summaries and their outbox rows, then signals the
// outbox, updates the metrics and calls Hooks.Summarized. A failed transaction is
// retried with backoff until ctx is cancelled; summaries lost that way are rebuilt from
// the stored readings at the next start.
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
	written, _, err := retry(ctx, s.log, s.metrics.StoreHealthy, "write summaries", len(kept), func() ([]pipeline.Summary, struct{}, error) {
		w, err := s.writeSummaries(ctx, kept, payloads)
		return w, struct{}{}, err
	})
	if err != nil {
		return err
	}
	if len(written) == 0 {
		return nil
	}
	select {
	case s.outbox.notify <- struct{}{}:
	default:
	}
	s.metrics.Summaries.Add(float64(len(written)))
	if n, err := s.outbox.Len(ctx); err == nil {
		s.metrics.OutboxDepth.Set(float64(n))
	}
	if h := s.env.Hooks.Summarized; h != nil {
		h(written)
	}
	return nil
}

// writeSummaries inserts the summaries (msgpack payloads alongside) and, for each one
// whose (device, start_ms) was not stored yet, its outbox row, in one transaction. It
// returns the summaries newly written; a window summarised twice (rebuilt after a
// restart) is ignored the second time.
func (s *Sink) writeSummaries(ctx context.Context, sums []pipeline.Summary, payloads [][]byte) (written []pipeline.Summary, err error) {
	start := time.Now()
	now := start.UnixNano()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	ins, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO summaries (device, start_ms, end_ms, count, payload, created) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	ob, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO outbox (msg_id, payload, created) VALUES (?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	for i, sum := range sums {
		res, err := ins.ExecContext(ctx, sum.Device, sum.StartMs, sum.EndMs, sum.Count, payloads[i], now)
		if err != nil {
			return nil, fmt.Errorf("summary: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		if _, err := ob.ExecContext(ctx, MsgID(sum), payloads[i], now); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		written = append(written, sum)
	}
	if err = tx.Commit(); err != nil {
		return nil, err
	}
	s.metrics.CommitSeconds.Observe(time.Since(start).Seconds())
	return written, nil
}
