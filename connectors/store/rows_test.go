package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// storeModel is the store's contract for live readings, applied one reading at a time in
// commit order: a reading whose device, event time and values are stored already is a
// duplicate; otherwise it is stored, and it conflicts when a reading of its device at its
// event time with other values is stored already.
type storeModel struct {
	stored          map[string]bool // device/ts/values
	at              map[string]int  // device/ts → readings stored
	rows            []string        // device/ts/values in commit order
	dups, conflicts int
}

func (m *storeModel) add(r *pipeline.Record) {
	at := fmt.Sprintf("%s/%d", r.Device, r.Time.UnixNano())
	key := fmt.Sprintf("%s/%s", at, appendValues(nil, r.Values))
	if m.stored[key] {
		m.dups++
		return
	}
	if m.at[at] > 0 {
		m.conflicts++
	}
	m.stored[key], m.at[at] = true, m.at[at]+1
	m.rows = append(m.rows, key)
}

// TestSinkRunsMatchPerReadingSemantics commits random readings of 4 devices (mostly in
// order, some behind, many redelivered or conflicting, within and across batches of 1
// to 150 readings, with a restart halfway) and checks the duplicates, conflicts and
// rows, in insertion order, against storeModel: the multi-row runs of new readings
// change nothing the per-reading path would have done.
func TestSinkRunsMatchPerReadingSemantics(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	path := dbPath(t)
	var a acks
	m := &storeModel{stored: map[string]bool{}, at: map[string]int{}}
	next := map[string]int{}
	var recs []*pipeline.Record
	for range 3000 {
		dev := fmt.Sprintf("d%d", rng.IntN(4))
		step := next[dev]
		switch p := rng.Float64(); {
		case p < 0.15 && step > 0: // behind: a redelivery, a conflict or a late arrival
			step = rng.IntN(step)
		case p < 0.25: // the same time again
		default:
			next[dev]++
		}
		recs = append(recs, a.rec(dev, time.Duration(step)*time.Second, float64(rng.IntN(3))))
	}
	ctx := context.Background()
	var dups, conflicts int
	for half, part := range [][]*pipeline.Record{recs[:1500], recs[1500:]} {
		s := openSink(t, path, testEnv(nil))
		for len(part) > 0 {
			b := part[:min(len(part), 1+rng.IntN(150))]
			part = part[len(b):]
			committed, n, err := s.commit(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range b {
				m.add(r)
			}
			dups, conflicts = dups+n.dups, conflicts+n.conflicts
			if len(committed)+n.dups != len(b) {
				t.Fatalf("run %d: %d committed + %d duplicates of a batch of %d", half, len(committed), n.dups, len(b))
			}
		}
		s.Close()
	}
	if dups != m.dups || conflicts != m.conflicts {
		t.Fatalf("duplicates %d, conflicts %d; want %d, %d", dups, conflicts, m.dups, m.conflicts)
	}
	if m.dups < 100 || m.conflicts < 100 {
		t.Fatalf("the readings make only %d duplicates and %d conflicts; the test needs more", m.dups, m.conflicts)
	}
	db, err := openReader(ctx, path, DefaultBusyTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT device, ts, vals FROM inferences ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var dev, vals string
		var ts int64
		if err := rows.Scan(&dev, &ts, &vals); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s/%d/%s", dev, ts, vals))
	}
	if strings.Join(got, " ") != strings.Join(m.rows, " ") {
		t.Fatalf("%d rows stored, want %d in commit order", len(got), len(m.rows))
	}
}

// A run of 200 new readings (statements of 64, 64, 64 and 8 rows) is stored whole.
func TestRowInserterLongRun(t *testing.T) {
	s := openSink(t, dbPath(t), testEnv(nil))
	defer s.Close()
	var a acks
	batch := make([]*pipeline.Record, 200)
	for i := range batch {
		batch[i] = a.rec("d1", time.Duration(i)*time.Millisecond, float64(i))
	}
	committed, n, err := s.commit(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != 200 || n.dups != 0 || n.conflicts != 0 {
		t.Fatalf("committed %d, %+v; want 200 new readings", len(committed), n)
	}
	if c := counts(t, s.path); c.Inferences != 200 {
		t.Fatalf("%d rows stored, want 200", c.Inferences)
	}
	if got := multiRowSQL(insertInference, 3, ""); strings.Count(got, "?") != 33 || !strings.HasPrefix(got, insertInference) {
		t.Fatalf("multiRowSQL(insertInference, 3) = %q, want insertInference with 3 rows of 11 parameters", got)
	}
}

// When a reading the sink took for new was stored behind its back (another writer), the
// run's statement stores fewer rows: the transaction fails with errNotNew, nothing of it
// is kept, and the retry, which stores the batch reading by reading, counts the
// duplicate; the device's span in devices then covers the new reading, and the next
// batch takes the multi-row path again. (Before byReading, the retry took the
// multi-row path again from the devices table, which the other writer had not
// updated, and failed the same way for ever.)
func TestSinkRecoversFromStaleLatest(t *testing.T) {
	s := openSink(t, dbPath(t), testEnv(nil))
	defer s.Close()
	var a acks
	ctx := context.Background()
	if _, _, err := s.commit(ctx, []*pipeline.Record{a.rec("d1", time.Second, 1)}); err != nil {
		t.Fatal(err)
	}
	behind := a.rec("d1", 2*time.Second, 5)
	if _, err := s.db.ExecContext(ctx, insertInference, "d1", behind.Time.UnixNano(), valuesHash(behind.Values), "[5]", 0.25, false, nil, "m1", "other", 0, 0); err != nil {
		t.Fatal(err)
	}
	batch := []*pipeline.Record{a.rec("d1", 2*time.Second, 5), a.rec("d1", 3*time.Second, 1)}
	if _, _, err := s.commit(ctx, batch); !errors.Is(err, errNotNew) {
		t.Fatalf("commit over a stale latest time: %v, want errNotNew", err)
	}
	if c := counts(t, s.path); c.Inferences != 2 {
		t.Fatalf("%d rows after the failed transaction, want 2", c.Inferences)
	}
	committed, n, err := s.commit(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != 1 || committed[0] != batch[1] || n.dups != 1 || n.conflicts != 0 {
		t.Fatalf("retry committed %d, %+v; want the 3 s reading new and the 2 s one a duplicate", len(committed), n)
	}
	var first, latest int64
	if err := s.db.QueryRowContext(ctx, `SELECT first_ts, latest_ts FROM devices WHERE device = 'd1'`).Scan(&first, &latest); err != nil {
		t.Fatal(err)
	}
	if first != t0.Add(time.Second).UnixNano() || latest != t0.Add(3*time.Second).UnixNano() {
		t.Fatalf("devices span of d1 [%d, %d], want [t0+1s, t0+3s]", first-t0.UnixNano(), latest-t0.UnixNano())
	}
	if s.byReading {
		t.Fatal("still storing reading by reading after the retry committed")
	}
	if committed, _, err := s.commit(ctx, []*pipeline.Record{a.rec("d1", 4*time.Second, 2)}); err != nil || len(committed) != 1 {
		t.Fatalf("next batch: %d committed, %v", len(committed), err)
	}
}

// BenchmarkSinkCommitDevices commits readings of 100 devices in transactions of
// DefaultBatch (one op = one reading: ns/op and allocs/op are per reading): "new" are
// fresh readings (the multi-row runs), "redelivered" the same readings again (each
// looked up one by one and found a duplicate).
func BenchmarkSinkCommitDevices(b *testing.B) {
	for _, redeliver := range []bool{false, true} {
		name := "new"
		if redeliver {
			name = "redelivered"
		}
		b.Run(name, func(b *testing.B) {
			s := openSink(b, filepath.Join(b.TempDir(), "bench.db"), &pipeline.Env{Metrics: pipeline.NewMetrics()})
			defer s.Close()
			ctx := context.Background()
			recs := make([]*pipeline.Record, b.N)
			for i := range recs {
				dev := fmt.Sprintf("sensor-%03d", i%100)
				r := pipeline.NewRecord("bench/"+dev+"/reading", nil, t0, nil)
				r.Device, r.Time = dev, t0.Add(time.Duration(i/100)*5*time.Minute)
				r.Values, r.Score, r.Model = []float64{float64(i % 977)}, 0.01, "m1"
				recs[i] = r
			}
			commit := func() {
				for k := 0; k < len(recs); k += DefaultBatch {
					if _, _, err := s.commit(ctx, recs[k:min(k+DefaultBatch, len(recs))]); err != nil {
						b.Fatal(err)
					}
				}
			}
			if redeliver {
				commit()
			}
			b.ReportAllocs()
			b.ResetTimer()
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			commit()
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			// CPU time (user + system) per reading: unlike ns/op, it does not grow when
			// other processes share the cores.
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/reading")
		})
	}
}
