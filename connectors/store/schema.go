package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema changes in order: migrations[i] brings the database to
// version i+1. A released migration is never edited; a change appends a new one.
var migrations = []string{
	// Version 1: every table. Times are integers (ns or ms since the Unix epoch, UTC).
	// UNIQUE(device, ts, vhash) also serves as the index for (device, ts) range
	// queries, so inferences carries no second index to slow its inserts.
	`CREATE TABLE inferences (
		id        INTEGER PRIMARY KEY,
		device    TEXT    NOT NULL,
		ts        INTEGER NOT NULL,
		vhash     INTEGER NOT NULL,
		vals      TEXT    NOT NULL,
		score     REAL,
		anomaly   INTEGER NOT NULL,
		label     TEXT,
		model     TEXT    NOT NULL,
		topic     TEXT    NOT NULL,
		received  INTEGER NOT NULL,
		committed INTEGER NOT NULL,
		UNIQUE (device, ts, vhash)
	);
	CREATE TABLE dead_letters (
		id      INTEGER PRIMARY KEY,
		at      INTEGER NOT NULL,
		topic   TEXT    NOT NULL,
		reason  TEXT    NOT NULL,
		payload BLOB,
		phash   INTEGER NOT NULL,
		part    INTEGER NOT NULL,
		device  TEXT,
		ts      INTEGER,
		UNIQUE (topic, phash, part)
	);
	CREATE INDEX dead_letters_device_ts ON dead_letters (device, ts);
	CREATE TABLE summaries (
		id       INTEGER PRIMARY KEY,
		device   TEXT    NOT NULL,
		start_ms INTEGER NOT NULL,
		end_ms   INTEGER NOT NULL,
		count    INTEGER NOT NULL,
		payload  BLOB    NOT NULL,
		created  INTEGER NOT NULL,
		UNIQUE (device, start_ms)
	);
	CREATE TABLE pipeline_fields (
		position INTEGER PRIMARY KEY,
		name     TEXT    NOT NULL
	);
	CREATE TABLE outbox (
		id      INTEGER PRIMARY KEY AUTOINCREMENT,
		msg_id  TEXT    NOT NULL UNIQUE,
		payload BLOB    NOT NULL,
		created INTEGER NOT NULL
	);`,
	// Version 2: retention. summaries.queued is 1 once the summary has its outbox row
	// (sent or waiting to be), 0 while it waits for room in a full outbox (outbox_full:
	// refuse); the summaries of version 1 were all queued. summaries_waiting finds the
	// waiting ones, summaries_created the ones to prune by age.
	`ALTER TABLE summaries ADD COLUMN queued INTEGER NOT NULL DEFAULT 1;
	CREATE INDEX summaries_waiting ON summaries (id) WHERE queued = 0;
	CREATE INDEX summaries_created ON summaries (created);`,
}

// schemaVersion returns the database's schema version, 0 when it has none.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v int
	err = db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// migrate brings the database to the latest schema version, one transaction per
// migration, recording each in schema_migrations (version, applied ns). It fails on a
// database newer than this code.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		applied INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	cur, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if cur > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this edgepipe (knows up to %d)", cur, len(migrations))
	}
	for v := cur + 1; v <= len(migrations); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`, v, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
}
