package store

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// createV1 creates at path a database as edgepipe made it before retention: schema
// version 1, auto_vacuum NONE, WAL. It holds n readings of device "old" (stored an hour
// ago, ts t0 + i ms), two summaries of "old" and an outbox row.
func createV1(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	q := url.Values{}
	q.Set("mode", "rwc")
	q.Set("_journal_mode", "WAL")
	name, err := dsn(path, q)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", name)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`,
		migrations[0],
		`INSERT INTO schema_migrations (version, applied) VALUES (1, 0)`,
		`INSERT INTO outbox (msg_id, payload, created) VALUES ('plant1/old/0', x'80', 0)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	insertReadings(t, db, "old", 0, n, time.Now().Add(-time.Hour).UnixNano())
	for w := range 2 {
		start := t0.Add(time.Duration(w) * time.Minute).UnixMilli()
		if _, err := db.Exec(`INSERT INTO summaries (device, start_ms, end_ms, count, payload, created) VALUES ('old', ?, ?, 1, x'80', 0)`, start, start+60_000); err != nil {
			t.Fatal(err)
		}
	}
	var av int
	if err := db.QueryRow(`PRAGMA auto_vacuum`).Scan(&av); err != nil || av != 0 {
		t.Fatalf("v1 database auto_vacuum %d (%v), want 0", av, err)
	}
}

func schemaInfo(t *testing.T, db *sql.DB) (version, autoVacuum, queued int) {
	t.Helper()
	if err := db.QueryRow(`SELECT (SELECT max(version) FROM schema_migrations), (SELECT auto_vacuum FROM pragma_auto_vacuum()),
		(SELECT count(*) FROM summaries WHERE queued = 1)`).Scan(&version, &autoVacuum, &queued); err != nil {
		t.Fatal(err)
	}
	return version, autoVacuum, queued
}

// TestMigrateV1WithSizeLimit opens a version 1 database of about 6 MiB with a 2 MiB
// limit: it is migrated to version 2 (its summaries count as queued), pruned to the
// budget, oldest first, converted to auto_vacuum INCREMENTAL by one VACUUM, and ends
// under the limit with its summaries and outbox intact; new readings are stored.
func TestMigrateV1WithSizeLimit(t *testing.T) {
	const n, limit = 60_000, 2 << 20
	path := dbPath(t)
	createV1(t, path, n)
	main, wal, err := files(path)
	if err != nil {
		t.Fatal(err)
	}
	if main+wal < 3*limit {
		t.Fatalf("the v1 database has %d bytes, want over %d", main+wal, 3*limit)
	}
	env := testEnv(nil)
	s := retentionSink(t, path, env, Retention{MaxSize: limit, Interval: time.Hour})
	defer s.Close()
	var a acks
	in := make(chan *pipeline.Record, 1)
	in <- a.rec("new", 0, 1, 2, 3, 4)
	close(in)
	if err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if v, av, queued := schemaInfo(t, s.db); v != len(migrations) || av != autoVacuumIncremental || queued != 2 {
		t.Fatalf("schema version %d, auto_vacuum %d, %d queued summaries; want %d, 2, 2", v, av, queued, len(migrations))
	}
	after, afterWal, err := files(path)
	if err != nil {
		t.Fatal(err)
	}
	if after+afterWal > limit {
		t.Fatalf("after conversion the database has %d + %d bytes, over %d", after, afterWal, limit)
	}
	c := counts(t, path)
	pruned := metric(t, env.Metrics.PrunedRows.WithLabelValues("inferences", reasonSize))
	if c.Summaries != 2 || c.Outbox != 1 || a.n.Load() != 1 || float64(c.Inferences)+pruned != n+1 {
		t.Fatalf("%d summaries, %d outbox rows, %d acked, %d readings + %v pruned; want 2, 1, 1, %d in all", c.Summaries, c.Outbox, a.n.Load(), c.Inferences, pruned, n+1)
	}
	var minTs int64
	if err := s.db.QueryRow(`SELECT min(ts) FROM inferences WHERE device = 'old'`).Scan(&minTs); err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Duration(n-int(c.Inferences)+1) * time.Millisecond).UnixNano(); minTs != want {
		t.Fatalf("oldest kept reading at %d, want %d (the oldest pruned first)", minTs, want)
	}
	t.Logf("v1 database of %d bytes converted to %d + %d bytes; %d readings kept, %v pruned", main+wal, after, afterWal, c.Inferences, pruned)
}

// TestMigrateV1WithoutSizeLimit: without a size limit a version 1 database is migrated
// and keeps its rows and its auto_vacuum mode (no VACUUM).
func TestMigrateV1WithoutSizeLimit(t *testing.T) {
	path := dbPath(t)
	createV1(t, path, 100)
	s := retentionSink(t, path, testEnv(nil), Retention{})
	defer s.Close()
	in := make(chan *pipeline.Record)
	close(in)
	if err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if v, av, queued := schemaInfo(t, s.db); v != len(migrations) || av != 0 || queued != 2 {
		t.Fatalf("schema version %d, auto_vacuum %d, %d queued summaries; want %d, 0, 2", v, av, queued, len(migrations))
	}
	if c := counts(t, path); c.Inferences != 100 || c.Summaries != 2 || c.Outbox != 1 {
		t.Fatalf("counts %+v, want 100 readings, 2 summaries, 1 outbox row", c)
	}
}
