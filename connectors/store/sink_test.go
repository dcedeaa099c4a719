package store

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"math"
	"os"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

func TestSinkStoresRedeliveryOnce(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	var hooked int
	env.Hooks.Committed = func(recs []*pipeline.Record, _ int) { hooked += len(recs) }
	var a acks
	batch := func() []*pipeline.Record {
		return []*pipeline.Record{a.rec("d1", 0, 21.5, 40), a.rec("d1", time.Second, 21.6, 41), a.rec("d2", 0, 19, math.NaN())}
	}
	runAll(t, path, env, batch()...)
	if got := metric(t, env.Metrics.Stored); got != 3 {
		t.Fatalf("stored = %v, want 3", got)
	}
	if a.n.Load() != 3 || hooked != 3 {
		t.Fatalf("after first delivery: acks %d, hooked %d, want 3 and 3", a.n.Load(), hooked)
	}
	// The broker redelivers the same three messages (the acks were lost in a crash).
	runAll(t, path, env, batch()...)
	if got := metric(t, env.Metrics.Duplicates); got != 3 {
		t.Fatalf("duplicates = %v, want 3", got)
	}
	if got := metric(t, env.Metrics.Stored); got != 3 {
		t.Fatalf("stored after redelivery = %v, want 3", got)
	}
	if a.n.Load() != 6 {
		t.Fatalf("acks = %d, want 6: duplicates are acked too", a.n.Load())
	}
	if hooked != 3 {
		t.Fatalf("Committed hook saw %d records, want 3 (duplicates excluded)", hooked)
	}
	if c := counts(t, path); c.Inferences != 3 {
		t.Fatalf("inferences = %d, want 3", c.Inferences)
	}
}

// Dynamic batching: five records already waiting with batch 2 are committed in three
// transactions (2, 2, 1).
func TestSinkBatchesWhatIsWaiting(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	s, err := New(Options{Path: path, Batch: 2, Synchronous: SyncFull, BusyTimeout: DefaultBusyTimeout}, env)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var a acks
	in := make(chan *pipeline.Record, 5)
	for i := range 5 {
		in <- a.rec("d1", time.Duration(i)*time.Second, float64(i))
	}
	close(in)
	if err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if tx := metric(t, env.Metrics.CommitSeconds); tx != 3 {
		t.Fatalf("%v transactions, want 3", tx)
	}
	if a.n.Load() != 5 || metric(t, env.Metrics.Stored) != 5 {
		t.Fatalf("acks %d, stored %v; want 5 and 5", a.n.Load(), metric(t, env.Metrics.Stored))
	}
}

func TestSinkKeepsSameTimestampDifferentValues(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	var a acks
	runAll(t, path, env, a.rec("d1", 0, 1, 2), a.rec("d1", 0, 1, 3), a.rec("d1", 0, 1, 2))
	var got [][]float64
	if err := openRO(t, path).Inferences(context.Background(), QueryOptions{Device: "d1"}, func(i Inference) error {
		got = append(got, i.Values)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0][1] != 2 || got[1][1] != 3 {
		t.Fatalf("stored values %v, want [[1 2] [1 3]]", got)
	}
	if d := metric(t, env.Metrics.Duplicates); d != 1 || a.n.Load() != 3 {
		t.Fatalf("duplicates %v, acks %d; want 1 and 3", d, a.n.Load())
	}
}

func TestSinkDeadLetters(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	var a acks
	bad := a.dead("decode: invalid JSON: unexpected end of input", `{"t":`)
	late := a.rec("d7", 5*time.Second, 1)
	late.Fail("validate: temperature 900 °C out of range [-40, 125]")
	runAll(t, path, env, bad, a.rec("d1", 0, 1), late)
	if a.n.Load() != 3 {
		t.Fatalf("acks = %d, want 3: dead letters are acked once stored", a.n.Load())
	}
	var got []DeadLetter
	if err := openRO(t, path).DeadLetters(context.Background(), 0, func(d DeadLetter) error {
		got = append(got, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d dead letters, want 2", len(got))
	}
	// Newest first.
	if got[0].Reason != late.DeadLetter || got[0].Device != "d7" || !got[0].Time.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("dead letter 0 = %+v", got[0])
	}
	if got[1].Reason != bad.DeadLetter || string(got[1].Payload) != `{"t":` || got[1].Topic != "sensors/bad" ||
		got[1].Device != "" || !got[1].Time.IsZero() || !got[1].At.Equal(t0) {
		t.Fatalf("dead letter 1 = %+v", got[1])
	}
	if n := metric(t, env.Metrics.DeadLetters.WithLabelValues("decode")); n != 1 {
		t.Fatalf("dead letters{decode} = %v, want 1", n)
	}
	if n := metric(t, env.Metrics.DeadLetters.WithLabelValues("validate")); n != 1 {
		t.Fatalf("dead letters{validate} = %v, want 1", n)
	}
	if c := counts(t, path); c.Inferences != 1 || c.DeadLetters != 2 {
		t.Fatalf("counts %+v, want 1 inference and 2 dead letters", c)
	}
}

// errorSignal is a slog handler that closes ch at the first record at level Error.
type errorSignal struct {
	slog.Handler
	ch chan struct{}
}

func (h *errorSignal) Enabled(context.Context, slog.Level) bool { return true }

func (h *errorSignal) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		select {
		case <-h.ch:
		default:
			close(h.ch)
		}
	}
	return nil
}

// A transaction that fails (here a trigger aborts every insert) acks nothing and sets
// edgepipe_store_healthy to 0; the batch is retried and acked once it commits, and the
// gauge is 1 again.
func TestSinkFailedCommitIsNotAcked(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	failed := make(chan struct{})
	env.Log = slog.New(&errorSignal{Handler: slog.DiscardHandler, ch: failed})
	s := openSink(t, path, env)
	defer s.Close()

	admin, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE TRIGGER reject BEFORE INSERT ON inferences BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`); err != nil {
		t.Fatal(err)
	}
	if h := metric(t, env.Metrics.StoreHealthy); h != 1 {
		t.Fatalf("store healthy = %v after opening, want 1", h)
	}

	var a acks
	in := make(chan *pipeline.Record, 2)
	in <- a.rec("d1", 0, 1)
	in <- a.rec("d1", time.Second, 2)
	close(in)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), in) }()

	<-failed
	if a.n.Load() != 0 {
		t.Fatalf("acks = %d after a failed commit, want 0", a.n.Load())
	}
	if h := metric(t, env.Metrics.StoreHealthy); h != 0 {
		t.Fatalf("store healthy = %v after a failed commit, want 0", h)
	}
	if c := counts(t, path); c.Inferences != 0 {
		t.Fatalf("inferences = %d after a failed commit, want 0", c.Inferences)
	}
	if _, err := admin.Exec(`DROP TRIGGER reject`); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a.n.Load() != 2 || metric(t, env.Metrics.Stored) != 2 || metric(t, env.Metrics.StoreHealthy) != 1 {
		t.Fatalf("after the retry: acks %d, stored %v, healthy %v; want 2, 2 and 1",
			a.n.Load(), metric(t, env.Metrics.Stored), metric(t, env.Metrics.StoreHealthy))
	}
}

// When the drain timeout cancels ctx while a commit keeps failing, Run returns and the
// records stay unacked (the broker redelivers them).
func TestSinkCancelledWhileFailingAcksNothing(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	failed := make(chan struct{})
	env.Log = slog.New(&errorSignal{Handler: slog.DiscardHandler, ch: failed})
	s := openSink(t, path, env)
	defer s.Close()
	admin, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE TRIGGER reject BEFORE INSERT ON dead_letters BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`); err != nil {
		t.Fatal(err)
	}
	var a acks
	in := make(chan *pipeline.Record, 2)
	in <- a.rec("d1", 0, 1)
	in <- a.dead("decode: bad", "x")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, in) }()
	<-failed
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if a.n.Load() != 0 {
		t.Fatalf("acks = %d, want 0", a.n.Load())
	}
	if c := counts(t, path); c.Inferences != 0 || c.DeadLetters != 0 {
		t.Fatalf("counts %+v, want nothing stored: the batch is one transaction", c)
	}
}

func TestSinkFileModeWALAndSchemaVersion(t *testing.T) {
	path := dbPath(t)
	var a acks
	runAll(t, path, testEnv(nil), a.rec("d1", 0, 1))
	s := openSink(t, path, testEnv(nil)) // keep it open so the -wal file exists
	defer s.Close()
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q (%v), want wal", mode, err)
	}
	var sync int
	if err := s.db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("synchronous = %d (%v), want 2 (FULL)", sync, err)
	}
	var versions []int
	rows, err := s.db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	rows.Close()
	if len(versions) != 3 || versions[0] != 1 || versions[1] != 2 || versions[2] != 3 {
		t.Fatalf("schema_migrations versions %v, want [1 2 3]", versions)
	}
	var av int
	if err := s.db.QueryRow(`PRAGMA auto_vacuum`).Scan(&av); err != nil || av != autoVacuumIncremental {
		t.Fatalf("auto_vacuum = %d (%v), want 2 (INCREMENTAL) for a new file", av, err)
	}
}

func TestValuesHashIsFNV1aOfIEEEBits(t *testing.T) {
	// FNV-1a 64 of the 8 little-endian bytes of 1.0 (0x3FF0000000000000), computed by
	// hand from the offset basis 0xcbf29ce484222325 and prime 0x100000001b3.
	h := uint64(0xcbf29ce484222325)
	for _, b := range []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f} {
		h ^= uint64(b)
		h *= 0x100000001b3
	}
	if got := valuesHash([]float64{1}); got != int64(h) {
		t.Fatalf("valuesHash([1]) = %#x, want %#x", uint64(got), h)
	}
	if valuesHash([]float64{math.NaN()}) != valuesHash([]float64{math.Float64frombits(0x7ff8000000000001)}) {
		t.Fatal("two NaN payloads hash differently")
	}
	if valuesHash([]float64{1, 2}) == valuesHash([]float64{2, 1}) {
		t.Fatal("order of values does not change the hash")
	}
}

// Regression: a redelivered dead letter was stored (and counted in its window's summary)
// once per delivery. Parts of one split message are distinct dead letters.
func TestSinkStoresRedeliveredDeadLetterOnce(t *testing.T) {
	path := dbPath(t)
	var a acks
	badIn := func() *pipeline.Record {
		r := a.rec("d1", 10*time.Second, 1)
		r.Payload = []byte(`{"ts": 1, "value": "x"}`)
		return r.Fail("decode: value: not a number")
	}
	split := func() []*pipeline.Record {
		parts := pipeline.NewRecord("sensors/d2", []byte(`[1,2]`), t0, pipeline.NewAck(func() { a.n.Add(1) })).Split(2)
		parts[0].Fail("decode: element 0: not an object")
		parts[1].Fail("decode: element 1: not an object")
		return parts
	}
	var dups int
	env := testEnv(newMinuteSummarizer("plant1", true))
	env.Hooks.Committed = func(_ []*pipeline.Record, d int) { dups += d }
	runAll(t, path, env, append(split(), badIn())...)
	env = testEnv(newMinuteSummarizer("plant1", true))
	env.Hooks.Committed = func(_ []*pipeline.Record, d int) { dups += d }
	runAll(t, path, env, append(split(), badIn(), a.rec("d1", 70*time.Second, 2))...)
	if c := counts(t, path); c.DeadLetters != 3 {
		t.Fatalf("%d dead letters, want 3 (1 message + 2 parts of another, each once)", c.DeadLetters)
	}
	if dups != 3 {
		t.Fatalf("duplicates reported to the hook: %d, want 3", dups)
	}
	if a.n.Load() != 5 { // run 1: the split message and the bad one; run 2: those again and a reading
		t.Fatalf("acks %d, want 5: every delivery is acked, duplicates too", a.n.Load())
	}
	var sum []pipeline.Summary
	openRO(t, path).Summaries(context.Background(), "d1", func(s pipeline.Summary) error { sum = append(sum, s); return nil })
	if len(sum) != 2 || sum[0].DeadLetters != 1 {
		t.Fatalf("summaries of d1 %+v: want the first window with 1 dead letter", sum)
	}
}

// Regression: a pipeline without decode stored raw messages as readings of device ""
// at time 0; such a record is now a dead letter.
func TestSinkDeadLettersRecordsWithoutDeviceOrTime(t *testing.T) {
	path := dbPath(t)
	var a acks
	raw := pipeline.NewRecord("sensors/x", []byte(`{"ts":1}`), t0, pipeline.NewAck(func() { a.n.Add(1) }))
	runAll(t, path, testEnv(nil), raw, a.rec("d1", 0, 1))
	if c := counts(t, path); c.Inferences != 1 || c.DeadLetters != 1 || a.n.Load() != 2 {
		t.Fatalf("counts %+v, acks %d: want 1 reading, 1 dead letter, 2 acks", c, a.n.Load())
	}
}

// A non-finite value or score is stored as NULL, never as a number: SQLite would keep
// ±Inf as a REAL, and a reader would get it back as a score.
func TestSinkStoresNonFiniteAsNull(t *testing.T) {
	path := dbPath(t)
	var a acks
	recs := []*pipeline.Record{a.rec("d1", 0, math.Inf(1), 2), a.rec("d1", time.Second, 3, math.NaN()), a.rec("d1", 2*time.Second, 4, 5)}
	recs[0].Score, recs[1].Score, recs[2].Score = math.Inf(1), math.Inf(-1), 0.25
	runAll(t, path, testEnv(nil), recs...)
	db := openRO(t, path)
	var numeric int
	if err := db.db.QueryRow(`SELECT count(*) FROM inferences WHERE score IS NOT NULL`).Scan(&numeric); err != nil {
		t.Fatal(err)
	}
	if numeric != 1 {
		t.Fatalf("%d rows with a numeric score, want 1 (the finite 0.25)", numeric)
	}
	var vals []string
	rows, err := db.db.Query(`SELECT vals FROM inferences ORDER BY ts`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		rows.Scan(&v)
		vals = append(vals, v)
	}
	rows.Close()
	if len(vals) != 3 || vals[0] != "[null,2]" || vals[1] != "[3,null]" || vals[2] != "[4,5]" {
		t.Fatalf("vals columns %q, want [null,2] [3,null] [4,5]", vals)
	}
}
