package store

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// insertReadings inserts n four-field readings of device directly, ts t0 + i ms for
// i = first … first+n−1, committed at committed (ns).
func insertReadings(t testing.TB, db *sql.DB, device string, first, n int, committed int64) {
	t.Helper()
	_, err := db.Exec(`WITH RECURSIVE c(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?1 + ?2)
		INSERT INTO inferences (device, ts, vhash, vals, score, anomaly, model, topic, received, committed)
		SELECT ?3, ?4 + i * 1000000, i, '[21.5,40.25,' || i || ',-3.5]', 0.25, 0, 'm1', 'sensors/' || ?3, ?5, ?5 FROM c`,
		first, n, device, t0.UnixNano(), committed)
	if err != nil {
		t.Fatal(err)
	}
}

// insertDeadLetters inserts n dead letters directly, arrived at at (ns), payloads
// "bad <first+i>".
func insertDeadLetters(t testing.TB, db *sql.DB, first, n int, at int64) {
	t.Helper()
	_, err := db.Exec(`WITH RECURSIVE c(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?1 + ?2)
		INSERT INTO dead_letters (at, topic, reason, payload, phash, part, device, ts)
		SELECT ?3, 'sensors/bad', 'decode: invalid JSON', 'bad ' || i, i, 0, NULL, NULL FROM c`, first, n, at)
	if err != nil {
		t.Fatal(err)
	}
}

// insertSummary inserts a summary row of device for the minute window starting at
// t0 + window minutes, created at created (ns).
func insertSummary(t testing.TB, db *sql.DB, device string, window int, created int64) {
	t.Helper()
	start := t0.Add(time.Duration(window) * time.Minute).UnixMilli()
	if _, err := db.Exec(`INSERT INTO summaries (device, start_ms, end_ms, count, payload, created) VALUES (?, ?, ?, 1, x'80', ?)`,
		device, start, start+60_000, created); err != nil {
		t.Fatal(err)
	}
}

// summaryWindows returns device → its summaries' windows (minutes after t0), in order.
func summaryWindows(t testing.TB, db *sql.DB) map[string][]int {
	t.Helper()
	rows, err := db.Query(`SELECT device, start_ms FROM summaries ORDER BY device, start_ms`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]int{}
	for rows.Next() {
		var dev string
		var start int64
		if err := rows.Scan(&dev, &start); err != nil {
			t.Fatal(err)
		}
		out[dev] = append(out[dev], int((start-t0.UnixMilli())/60_000))
	}
	return out
}

// waitFor polls cond every 5 ms until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAgePruning: the sink's pruner, started by Run, deletes readings, dead letters and
// summaries stored two hours ago under a one-hour max age, and keeps those stored now
// and the latest summary of a device whose only summary is old.
func TestAgePruning(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	s := retentionSink(t, path, env, Retention{ReadingsMaxAge: time.Hour, DeadLettersMaxAge: time.Hour,
		SummariesMaxAge: time.Hour, Interval: time.Hour})
	defer s.Close()
	old := time.Now().Add(-2 * time.Hour).UnixNano()
	insertReadings(t, s.db, "d1", 0, 30, old)
	insertDeadLetters(t, s.db, 0, 5, old)
	for w := range 4 {
		insertSummary(t, s.db, "d1", w, old)
	}
	insertSummary(t, s.db, "d2", 0, old)
	insertSummary(t, s.db, "d1", 4, time.Now().UnixNano())

	var a acks
	in := make(chan *pipeline.Record, 16)
	for i := range 10 {
		in <- a.rec("d1", time.Hour+time.Duration(i)*time.Second, 1, 2, 3, 4)
	}
	for i := range 3 { // dead letters are aged by arrival time: these arrive now
		in <- pipeline.NewRecord("sensors/bad", []byte("fresh "+string(rune('a'+i))), time.Now(),
			pipeline.NewAck(func() { a.n.Add(1) })).Fail("decode: invalid JSON")
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), in) }()
	m := env.Metrics
	waitFor(t, "age pruning", func() bool {
		return metric(t, m.PrunedRows.WithLabelValues("inferences", reasonAge)) == 30 &&
			metric(t, m.PrunedRows.WithLabelValues("dead_letters", reasonAge)) == 5 &&
			metric(t, m.PrunedRows.WithLabelValues("summaries", reasonAge)) == 4 && a.n.Load() == 13
	})
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c := counts(t, path)
	if c.Inferences != 10 || c.DeadLetters != 3 || c.Summaries != 2 {
		t.Fatalf("kept %d readings, %d dead letters, %d summaries; want 10, 3, 2", c.Inferences, c.DeadLetters, c.Summaries)
	}
	ro := openRO(t, path).db
	var oldest int64
	if err := ro.QueryRow(`SELECT min(committed) FROM inferences`).Scan(&oldest); err != nil || oldest <= old {
		t.Fatalf("oldest kept reading committed at %d (%v), want after %d", oldest, err, old)
	}
	var payloads []string
	rows, err := ro.Query(`SELECT CAST(payload AS TEXT) FROM dead_letters ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, p)
	}
	rows.Close()
	if strings.Join(payloads, ",") != "fresh a,fresh b,fresh c" {
		t.Fatalf("dead letters kept %q, want the three fresh ones", payloads)
	}
	if got := summaryWindows(t, ro); len(got) != 2 || len(got["d1"]) != 1 || got["d1"][0] != 4 || len(got["d2"]) != 1 || got["d2"][0] != 0 {
		t.Fatalf("summaries kept %v, want d1 [4] (the fresh one) and d2 [0] (old but d2's latest)", got)
	}
}

// TestRowPruning: a full pass keeps the newest 4 of 10 dead letters and 3 of 6
// summaries, pruning the oldest but never a device's latest summary.
func TestRowPruning(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	s := retentionSink(t, path, env, Retention{DeadLettersMaxRows: 4, SummariesMaxRows: 3, Interval: time.Hour})
	defer s.Close()
	now := time.Now().UnixNano()
	insertDeadLetters(t, s.db, 1, 10, now)
	insertSummary(t, s.db, "d2", 0, now) // the oldest row, and d2's latest
	for w := range 5 {
		insertSummary(t, s.db, "d1", w, now)
	}
	p := newPruner(s.pruneDB, s.path, s.gate, s.retention, s.metrics, s.log)
	progressed, err := p.pass(context.Background(), true, 0)
	if err != nil || !progressed {
		t.Fatalf("pass: progressed %v, err %v; want true, nil", progressed, err)
	}
	var ids string
	if err := s.db.QueryRow(`SELECT group_concat(CAST(payload AS TEXT), ',') FROM (SELECT payload FROM dead_letters ORDER BY id)`).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if ids != "bad 7,bad 8,bad 9,bad 10" {
		t.Fatalf("dead letters kept %s, want the newest four (bad 7 … bad 10)", ids)
	}
	if got := summaryWindows(t, s.db); len(got["d1"]) != 2 || got["d1"][0] != 3 || got["d1"][1] != 4 || len(got["d2"]) != 1 {
		t.Fatalf("summaries kept %v, want d1 [3 4] and d2 [0]", got)
	}
	if d, sm := metric(t, env.Metrics.PrunedRows.WithLabelValues("dead_letters", reasonRows)), metric(t, env.Metrics.PrunedRows.WithLabelValues("summaries", reasonRows)); d != 6 || sm != 3 {
		t.Fatalf("pruned %v dead letters and %v summaries for rows, want 6 and 3", d, sm)
	}
	// A second pass has nothing left to do.
	if progressed, err := p.pass(context.Background(), true, 0); err != nil || progressed {
		t.Fatalf("second pass: progressed %v, err %v; want false, nil", progressed, err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "512MiB": 512 << 20, "1GiB": 1 << 30, "1.5GiB": 3 << 29, "2 GB": 2e9, "64kib": 64 << 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "abc", "12 parsecs", "99999999EiB"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestRetentionFromConfig(t *testing.T) {
	cfg, err := parseStore(t, "  type: sqlite\n  path: edge.db\n  max_size: 512MiB\n  readings_max_age: 720h\n"+
		"  dead_letters_max_rows: 50\n  summaries_max_age: 2160h\n  outbox_max_rows: 10\n  outbox_full: drop_oldest\n  prune_interval: 30s\n")
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.Store.Spec.Build(cfg.Store, &pipeline.Env{Dir: t.TempDir(), Metrics: pipeline.NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	s := got.(*Sink)
	defer s.Close()
	want := Retention{ReadingsMaxAge: 720 * time.Hour, MaxSize: 512 << 20, DeadLettersMaxRows: 50, SummariesMaxAge: 2160 * time.Hour,
		SummariesMaxRows: DefaultSummariesMaxRows, OutboxMaxRows: 10, OutboxFull: OutboxDropOldest, Interval: 30 * time.Second}
	if s.retention != want {
		t.Fatalf("retention %+v, want %+v", s.retention, want)
	}
	if s.outbox.limit != 10 || s.outbox.full != OutboxDropOldest || s.gate.budget == nil || s.gate.budget.max != 512<<20 {
		t.Fatalf("outbox limit %d %q, budget %+v", s.outbox.limit, s.outbox.full, s.gate.budget)
	}

	// The defaults: 1 GiB, no ages, 100 000 rows for dead letters, summaries and outbox.
	cfg, err = parseStore(t, "  type: sqlite\n  path: edge.db\n")
	if err != nil {
		t.Fatal(err)
	}
	got, err = cfg.Store.Spec.Build(cfg.Store, &pipeline.Env{Dir: t.TempDir(), Metrics: pipeline.NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	s = got.(*Sink)
	defer s.Close()
	want = Retention{MaxSize: 1 << 30, DeadLettersMaxRows: 100_000, SummariesMaxRows: 100_000, OutboxMaxRows: 100_000,
		OutboxFull: OutboxRefuse, Interval: time.Minute}
	if s.retention != want {
		t.Fatalf("default retention %+v, want %+v", s.retention, want)
	}

	for field, bad := range map[string]string{
		"max_size":       "max_size: 512KiB",
		"max_size ":      "max_size: lots",
		"outbox_full":    "outbox_full: block",
		"prune_interval": "prune_interval: 0s",
		"outbox_max_":    "outbox_max_rows: -1",
	} {
		cfg, err := parseStore(t, "  type: sqlite\n  path: edge.db\n  "+bad+"\n")
		if err == nil {
			_, err = cfg.Store.Spec.Build(cfg.Store, &pipeline.Env{Dir: t.TempDir(), Metrics: pipeline.NewMetrics(), DryRun: true})
		}
		if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(field)) {
			t.Errorf("%q: error %v, want one naming %s", bad, err, strings.TrimSpace(field))
		}
	}
}
