package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// inferenceRows returns every inferences row as text, in id order.
func inferenceRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT id, device, ts, vhash, vals, score, anomaly, label, model, topic, received, committed FROM inferences ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, ts, vhash, anomaly, received, committed int64
		var dev, vals, model, topic string
		var score sql.NullFloat64
		var label sql.NullString
		if err := rows.Scan(&id, &dev, &ts, &vhash, &vals, &score, &anomaly, &label, &model, &topic, &received, &committed); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(id, dev, ts, vhash, vals, score, anomaly, label, model, topic, received, committed))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// queryPlan returns EXPLAIN QUERY PLAN's details for q, joined by "; ".
func queryPlan(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query(`EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return strings.Join(out, "; ")
}

// Migration 3 rebuilds inferences on the (ts, device, vhash) key keeping every row and
// its id, fills devices with each device's span, and the store then keeps devices up to
// date, stores redeliveries once and restores the open windows.
func TestMigrateToTimeFirstKey(t *testing.T) {
	path := dbPath(t)
	createV1(t, path, 100) // device "old": ts t0 … t0+99 ms
	{
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		insertReadings(t, db, "other", 50, 20, 0) // ts t0+50 … t0+69 ms
		db.Close()
	}
	before := func() []string {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return inferenceRows(t, db)
	}()

	var a acks
	var logs strings.Builder
	env := testEnv(nil)
	env.Log = slog.New(slog.NewTextHandler(&logs, nil))
	s := retentionSink(t, path, env, Retention{})
	defer s.Close()
	for _, v := range []string{"version=2", "version=3"} {
		if !strings.Contains(logs.String(), "msg=\"store: schema migrated\" "+v) {
			t.Fatalf("no log line of the migration to %s:\n%s", v, logs.String())
		}
	}
	after := inferenceRows(t, s.db)
	if strings.Join(after, "\n") != strings.Join(before, "\n") || len(after) != 120 {
		t.Fatalf("%d rows after the migration, %d before, or some changed", len(after), len(before))
	}
	var cols []string
	rows, err := s.db.Query(`SELECT ii.name FROM pragma_index_list('inferences') il, pragma_index_info(il.name) ii WHERE il."unique" = 1 ORDER BY il.name, ii.seqno`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if got := strings.Join(cols, ","); got != "ts,device,vhash" {
		t.Fatalf("inferences unique key (%s), want (ts,device,vhash)", got)
	}
	spans := func() map[string]string {
		out := map[string]string{}
		rows, err := s.db.Query(`SELECT device, first_ts, latest_ts FROM devices`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var d string
			var f, l int64
			if err := rows.Scan(&d, &f, &l); err != nil {
				t.Fatal(err)
			}
			out[d] = fmt.Sprintf("%v..%v", time.Duration(f-t0.UnixNano()), time.Duration(l-t0.UnixNano()))
		}
		return out
	}
	if got := fmt.Sprint(spans()); got != "map[old:0s..99ms other:50ms..69ms]" {
		t.Fatalf("devices after the migration: %s", got)
	}
	for q, want := range map[string]string{
		selectLatestTs: "devices",
		`SELECT ts FROM inferences WHERE device = ?1 AND ts >= ?2 AND ts <= (SELECT latest_ts FROM devices WHERE device = ?1)`: "SEARCH inferences USING COVERING INDEX sqlite_autoindex_inferences_1 (ts>? AND ts<?)",
	} {
		if plan := queryPlan(t, s.db, q, "old", 0); !strings.Contains(plan, want) {
			t.Errorf("plan of %q: %s; want %s", q, plan, want)
		}
	}

	// 100 ms of "old" and −1 ms of "other" are new (the latter out of order: stored one
	// by one) and widen the spans; 99 ms of "old" with other values is a conflict (the
	// lookup on the new key); the 100 ms reading again is a duplicate.
	batch := []*pipeline.Record{
		a.rec("old", 100*time.Millisecond, 1),
		a.rec("other", -time.Millisecond, 2),
		a.rec("old", 99*time.Millisecond, 3),
	}
	committed, n, err := s.commit(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != 3 || n.dups != 0 || n.conflicts != 1 {
		t.Fatalf("%d committed, %+v; want 3 new, 1 of them a conflict", len(committed), n)
	}
	committed, n, err = s.commit(context.Background(), batch[:1])
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != 0 || n.dups != 1 {
		t.Fatalf("redelivery: %d committed, %+v; want 1 duplicate", len(committed), n)
	}
	if got := fmt.Sprint(spans()); got != "map[old:0s..100ms other:-1ms..69ms]" {
		t.Fatalf("devices after the commits: %s", got)
	}
}

// A database not migrated yet (version 1: no devices table) is read by Open, a device's
// readings selected without the span bounds; after the migration the bounded query
// returns the same readings.
func TestInferencesByDeviceBeforeAndAfterMigration(t *testing.T) {
	path := dbPath(t)
	createV1(t, path, 100)
	// counts are the readings of: old since 10 ms; old in [10 ms, 20 ms); old until
	// 5 ms; old since 200 ms (after its last); a device never seen.
	read := func() (version int, counts []int) {
		d, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		for _, q := range []QueryOptions{
			{Device: "old", Since: t0.Add(10 * time.Millisecond)},
			{Device: "old", Since: t0.Add(10 * time.Millisecond), Until: t0.Add(20 * time.Millisecond)},
			{Device: "old", Until: t0.Add(5 * time.Millisecond)},
			{Device: "old", Since: t0.Add(200 * time.Millisecond)},
			{Device: "nobody"},
		} {
			n := 0
			if err := d.Inferences(context.Background(), q, func(Inference) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			counts = append(counts, n)
		}
		return d.version, counts
	}
	const want = "[90 10 5 0 0]"
	if v, counts := read(); v != 1 || fmt.Sprint(counts) != want {
		t.Fatalf("before the migration: version %d, counts %v; want 1, %s", v, counts, want)
	}
	s := retentionSink(t, path, testEnv(nil), Retention{})
	s.Close()
	if v, counts := read(); v != len(migrations) || fmt.Sprint(counts) != want {
		t.Fatalf("after the migration: version %d, counts %v; want %d, %s", v, counts, len(migrations), want)
	}
}
