package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/edgepipe/edgepipe/pipeline"
)

// outbox is the pipeline.Outbox of a Sink: the outbox table, whose rows hold msgpack
// summaries in creation (id) order.
type outbox struct {
	db      *sql.DB
	metrics *pipeline.Metrics
	notify  chan struct{}
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

// Remove deletes the entries with the given ids (acknowledged by the cloud side) in one
// transaction; unknown ids are ignored.
func (o *outbox) Remove(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	del, err := tx.PrepareContext(ctx, `DELETE FROM outbox WHERE id = ?`)
	if err != nil {
		tx.Rollback()
		return err
	}
	for _, id := range ids {
		if _, err := del.ExecContext(ctx, id); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if n, err := o.Len(ctx); err == nil {
		o.metrics.OutboxDepth.Set(float64(n))
	}
	return nil
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
