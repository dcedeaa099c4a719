package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/edgepipe/edgepipe/pipeline"
)

// DB is a read-only view of a store database, for `edgepipe query` and reports. It may
// be opened while a pipeline writes to the same file (WAL readers do not block the
// writer). Its methods are safe for concurrent use.
type DB struct {
	db *sql.DB
	// version is the database's schema version: before 3 it has no devices table.
	version int
}

// Open opens the existing database at path read-only. Errors: the file is missing or
// not a SQLite database, it has no edgepipe schema, or its schema version is newer than
// this package.
func Open(path string) (*DB, error) {
	ctx := context.Background()
	db, err := openReader(ctx, path, DefaultBusyTimeout)
	if err != nil {
		return nil, err
	}
	v, err := schemaVersion(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &DB{db: db, version: v}, nil
}

// Close releases the database.
func (d *DB) Close() error { return d.db.Close() }

// Inference is one stored reading with its model result.
type Inference struct {
	Device string
	// Time is the event time (UTC, ns precision).
	Time time.Time
	// Values are the reading's field values in the config's field order, in physical
	// units; NaN = missing.
	Values []float64
	// Score is the model score, NaN when the reading was not scored.
	Score   float64
	Anomaly bool
	// Label is the classifier's class ("" for anomaly detectors); Model the version of
	// the model that scored the reading ("" when none did).
	Label, Model string
}

// QueryOptions select inferences. Zero values select everything.
type QueryOptions struct {
	// Device, when not empty, selects one device.
	Device string
	// Since and Until bound the event time to [Since, Until); a zero time is unbounded.
	Since, Until time.Time
	// Limit caps the number of rows (≤ 0: no limit).
	Limit int
}

// Inferences calls fn for each stored reading that opts select, in event-time order (ts,
// then insertion order). It stops at and returns fn's first error.
func (d *DB) Inferences(ctx context.Context, opts QueryOptions, fn func(Inference) error) error {
	var where []string
	var args []any
	// from and to bound ts to [from, to) (ns) when set.
	var from, to int64
	hasFrom, hasTo := !opts.Since.IsZero(), !opts.Until.IsZero()
	if hasFrom {
		from = opts.Since.UnixNano()
	}
	if hasTo {
		to = opts.Until.UnixNano()
	}
	if opts.Device != "" {
		where, args = append(where, "device = ?"), append(args, opts.Device)
		if d.version >= 3 {
			// The key is (ts, device, vhash): the device's span of event times, cut
			// to Since and Until, is the one range scanned (SQLite uses a single range
			// bound per side, so the two are intersected here).
			var first, latest int64
			err := d.db.QueryRowContext(ctx, `SELECT first_ts, latest_ts FROM devices WHERE device = ?`, opts.Device).Scan(&first, &latest)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // no stored reading
			}
			if err != nil {
				return err
			}
			if !hasFrom || first > from {
				from, hasFrom = first, true
			}
			if latest < math.MaxInt64 && (!hasTo || latest+1 < to) {
				to, hasTo = latest+1, true
			}
		}
	}
	if hasFrom {
		where, args = append(where, "ts >= ?"), append(args, from)
	}
	if hasTo {
		where, args = append(where, "ts < ?"), append(args, to)
	}
	q := `SELECT device, ts, vals, score, anomaly, label, model FROM inferences`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY ts, id"
	if opts.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, opts.Limit)
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var inf Inference
		var ts int64
		var vals string
		var score sql.NullFloat64
		var label sql.NullString
		if err := rows.Scan(&inf.Device, &ts, &vals, &score, &inf.Anomaly, &label, &inf.Model); err != nil {
			return err
		}
		if inf.Values, err = decodeValues(vals); err != nil {
			return err
		}
		inf.Time, inf.Label = fromNano(ts), label.String
		inf.Score = math.NaN()
		if score.Valid {
			inf.Score = score.Float64
		}
		if err := fn(inf); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Counts are the row counts of the store's tables.
type Counts struct {
	Inferences, DeadLetters, Summaries, Outbox int64
	// Summarized is the sum of summaries.count: the readings covered by written
	// summaries.
	Summarized int64
}

// Counts returns the row counts of the tables, read in one statement (one consistent
// snapshot).
func (d *DB) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	err := d.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM inferences),
		(SELECT count(*) FROM dead_letters),
		(SELECT count(*) FROM summaries),
		(SELECT count(*) FROM outbox),
		(SELECT coalesce(sum(count), 0) FROM summaries)`).
		Scan(&c.Inferences, &c.DeadLetters, &c.Summaries, &c.Outbox, &c.Summarized)
	return c, err
}

// DeadLetter is one stored dead letter.
type DeadLetter struct {
	ID int64
	// At is the arrival time at the source (UTC).
	At     time.Time
	Topic  string
	Reason string
	// Payload is the raw message body.
	Payload []byte
	// Device and Time are set when decoding got that far ("" and the zero time
	// otherwise).
	Device string
	Time   time.Time
}

// DeadLetters calls fn for the most recent limit dead letters (all when limit ≤ 0),
// newest first. It stops at and returns fn's first error.
func (d *DB) DeadLetters(ctx context.Context, limit int, fn func(DeadLetter) error) error {
	q := `SELECT id, at, topic, reason, payload, device, ts FROM dead_letters ORDER BY id DESC`
	var args []any
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var dl DeadLetter
		var at int64
		var dev sql.NullString
		var ts sql.NullInt64
		if err := rows.Scan(&dl.ID, &at, &dl.Topic, &dl.Reason, &dl.Payload, &dev, &ts); err != nil {
			return err
		}
		dl.At, dl.Device = fromNano(at), dev.String
		if ts.Valid {
			dl.Time = fromNano(ts.Int64)
		}
		if err := fn(dl); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Summaries calls fn for each written summary of device (every device when ""), ordered
// by device, then window start. It stops at and returns fn's first error.
func (d *DB) Summaries(ctx context.Context, device string, fn func(pipeline.Summary) error) error {
	q := `SELECT payload FROM summaries`
	var args []any
	if device != "" {
		q += " WHERE device = ?"
		args = append(args, device)
	}
	rows, err := d.db.QueryContext(ctx, q+" ORDER BY device, start_ms", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			return err
		}
		var s pipeline.Summary
		if err := msgpack.Unmarshal(payload, &s); err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return rows.Err()
}

// OutboxEntry is one summary waiting in the outbox for the forwarder.
type OutboxEntry struct {
	// ID is the outbox row id: entries are forwarded in ascending ID order.
	ID int64
	// MsgID is the Nats-Msg-Id, `<site>/<device>/<start ms>`.
	MsgID  string
	Device string
	// StartMs is the window start in ms since the Unix epoch (UTC).
	StartMs int64
	// Created is when the summary was written (UTC).
	Created time.Time
}

// Outbox calls fn for each summary waiting in the outbox, oldest (lowest id, the order
// the forwarder sends them in) first. It stops at and returns fn's first error; a payload
// that is not a msgpack summary is an error naming its row.
func (d *DB) Outbox(ctx context.Context, fn func(OutboxEntry) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT id, msg_id, payload, created FROM outbox ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e OutboxEntry
		var payload []byte
		var created int64
		if err := rows.Scan(&e.ID, &e.MsgID, &payload, &created); err != nil {
			return err
		}
		var s pipeline.Summary
		if err := msgpack.Unmarshal(payload, &s); err != nil {
			return fmt.Errorf("store: outbox row %d (%s): %w", e.ID, e.MsgID, err)
		}
		e.Device, e.StartMs, e.Created = s.Device, s.StartMs, fromNano(created)
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}
