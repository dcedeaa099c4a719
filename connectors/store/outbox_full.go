package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/edgepipe/edgepipe/pipeline"
)

// queueRows and queueBytes bound how many waiting summaries (and payload bytes) one
// transaction queues besides the summaries it writes, so that a large backlog is queued
// in small steps as the forwarder frees room.
const (
	queueRows  = 256
	queueBytes = 64 << 10
)

// summaryRowBytes is an upper estimate of an outbox row's size (msgpack summary of a
// few fields, msg id, ids), for the pages that deleting outbox rows modifies.
const summaryRowBytes = 1024

// queueResult is what one queue step did.
type queueResult struct {
	// queued summaries got their outbox row; dropped outbox entries were deleted
	// (OutboxDropOldest); waiting summaries still wait for room (OutboxRefuse).
	queued, dropped, waiting int
}

// queue gives summaries waiting for room (summaries.queued = 0), oldest first, their
// outbox row, within tx: at most rows of them and, past the first, bytes of payload.
// With OutboxRefuse (or "") and a row limit it queues only as many as the outbox has
// room for; with OutboxDropOldest it queues them and then deletes the oldest outbox
// entries beyond the limit. The outbox row's msg_id is MsgID of the decoded payload, its
// created the summary's. Errors: a statement failed or a payload does not decode.
func (o *outbox) queue(ctx context.Context, tx *sql.Tx, rows int, bytes int64) (queueResult, error) {
	var r queueResult
	if o.limit > 0 && o.full != OutboxDropOldest {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			return r, err
		}
		rows = min(rows, max(o.limit-n, 0))
	}
	if rows > 0 {
		q, err := queueWaiting(ctx, tx, rows, bytes)
		if err != nil {
			return r, err
		}
		r.queued = q
	}
	if o.limit > 0 && o.full == OutboxDropOldest {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE id IN
			(SELECT id FROM outbox ORDER BY id LIMIT max((SELECT count(*) FROM outbox) - ?, 0))`, o.limit)
		if err != nil {
			return r, fmt.Errorf("outbox: drop oldest: %w", err)
		}
		d, err := res.RowsAffected()
		if err != nil {
			return r, err
		}
		r.dropped = int(d)
	}
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM summaries WHERE queued = 0`).Scan(&r.waiting)
	return r, err
}

// queueWaiting moves up to rows waiting summaries, oldest first, into the outbox, the
// first regardless of its size and the others while their payloads total at most bytes.
// It returns how many it moved.
func queueWaiting(ctx context.Context, tx *sql.Tx, rows int, bytes int64) (int, error) {
	type waiting struct {
		id, created int64
		payload     []byte
	}
	list, err := func() ([]waiting, error) {
		rs, err := tx.QueryContext(ctx, `SELECT id, created, payload FROM summaries WHERE queued = 0 ORDER BY id LIMIT ?`, rows)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		var out []waiting
		var total int64
		for rs.Next() {
			var w waiting
			if err := rs.Scan(&w.id, &w.created, &w.payload); err != nil {
				return nil, err
			}
			total += int64(len(w.payload))
			if len(out) > 0 && total > bytes {
				break
			}
			out = append(out, w)
		}
		return out, rs.Err()
	}()
	if err != nil {
		return 0, err
	}
	for _, w := range list {
		var sum pipeline.Summary
		if err := msgpack.Unmarshal(w.payload, &sum); err != nil {
			return 0, fmt.Errorf("summary row %d: %w", w.id, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO outbox (msg_id, payload, created) VALUES (?, ?, ?)`, MsgID(sum), w.payload, w.created); err != nil {
			return 0, fmt.Errorf("outbox: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE summaries SET queued = 1 WHERE id = ?`, w.id); err != nil {
			return 0, err
		}
	}
	return len(list), nil
}

// queuePages is an upper estimate (pagesFor) of the pages a transaction that writes
// summaries with payloads of newBytes in total and then queues (queue with queueRows
// more rows and queueBytes more bytes) modifies: each payload is written twice (summary
// and outbox row).
func queuePages(newRows int, newBytes int64, page int64) int64 {
	rows := int64(newRows + queueRows)
	return pagesFor(2*(newBytes+queueBytes)+160*rows, 64*rows, rows, 4, page)
}
