package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/edgepipe/edgepipe/pipeline"
)

// outbox is the pipeline.Outbox of a Sink: the outbox table, whose rows hold msgpack
// summaries in creation (id) order, bounded by limit rows (0 = no limit) with the full
// policy full (see queue).
type outbox struct {
	db      *sql.DB
	gate    *writeGate
	metrics *pipeline.Metrics
	notify  chan struct{}
	limit   int
	full    string
}

// Pending returns up to limit entries, oldest (lowest id) first, with their payloads
// decoded. limit ≤ 0 returns none. A payload that cannot be decoded is an error naming
// its row.
func (o *outbox) Pending(ctx context.Context, limit int) ([]pipeline.OutboxEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := o.db.QueryContext(ctx, `SELECT id, msg_id, payload, created FROM outbox ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pipeline.OutboxEntry
	for rows.Next() {
		var e pipeline.OutboxEntry
		var payload []byte
		var created int64
		if err := rows.Scan(&e.ID, &e.MsgID, &payload, &created); err != nil {
			return nil, err
		}
		if err := msgpack.Unmarshal(payload, &e.Summary); err != nil {
			return nil, fmt.Errorf("store: outbox row %d (%s): %w", e.ID, e.MsgID, err)
		}
		e.Created = fromNano(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Remove deletes the entries with the given ids (acknowledged by the cloud side) and,
// in the same transaction, queues summaries waiting for the room this frees (see
// queue); unknown ids are ignored. It waits for room under the size limit like every
// write (writeGate).
func (o *outbox) Remove(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var q queueResult
	page := o.gate.page()
	need := pagesFor(int64(len(ids))*summaryRowBytes, int64(len(ids))*64, int64(len(ids)), 16, page) + queuePages(0, 0, page)
	err := o.gate.do(ctx, o.db, need, func() (err error) {
		tx, err := o.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer func() {
			if err != nil {
				tx.Rollback()
			}
		}()
		del, err := tx.PrepareContext(ctx, `DELETE FROM outbox WHERE id = ?`)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := del.ExecContext(ctx, id); err != nil {
				return err
			}
		}
		if q, err = o.queue(ctx, tx, queueRows, queueBytes); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return err
	}
	o.queued(ctx, q)
	return nil
}

// queued counts what a committed queue step did, signals Notify when it queued
// summaries, and refreshes the outbox gauges (refreshGauges).
func (o *outbox) queued(ctx context.Context, q queueResult) {
	o.metrics.OutboxDropped.Add(float64(q.dropped))
	if q.queued > 0 {
		select {
		case o.notify <- struct{}{}:
		default:
		}
	}
	o.refreshGauges(ctx)
}

// Len returns the number of entries waiting.
func (o *outbox) Len(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n)
	return n, err
}

// Notify returns a channel (capacity 1) that receives a value after new entries were
// committed; several commits may coalesce into one value.
func (o *outbox) Notify() <-chan struct{} { return o.notify }
