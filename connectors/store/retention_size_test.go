package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// retentionSink opens a sink on path with ret (batch 512, FULL).
func retentionSink(t testing.TB, path string, env *pipeline.Env, ret Retention) *Sink {
	t.Helper()
	s, err := New(Options{Path: path, Batch: DefaultBatch, Synchronous: SyncFull, BusyTimeout: DefaultBusyTimeout, Retention: ret}, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sizeSampler records the largest main + -wal size of a database seen by its sample
// calls and by a goroutine sampling every 200 µs until stop.
type sizeSampler struct {
	path    string
	largest atomic.Int64
	samples atomic.Int64
	done    chan struct{}
	wg      sync.WaitGroup
}

func sampleSizes(path string) *sizeSampler {
	z := &sizeSampler{path: path, done: make(chan struct{})}
	z.wg.Go(func() {
		for {
			select {
			case <-z.done:
				return
			case <-time.After(200 * time.Microsecond):
				z.sample()
			}
		}
	})
	return z
}

func (z *sizeSampler) sample() {
	main, wal, err := files(z.path)
	if err != nil {
		return
	}
	z.samples.Add(1)
	for {
		cur := z.largest.Load()
		if main+wal <= cur || z.largest.CompareAndSwap(cur, main+wal) {
			return
		}
	}
}

func (z *sizeSampler) stop() { close(z.done); z.wg.Wait() }

// TestSizeLimitNeverExceeded stores 40 000 four-field readings of 8 devices (about 6 MiB
// of rows and index) into a database limited to 2 MiB. The database file plus its
// write-ahead log, sampled every 200 µs and after every commit, never exceeds 2 MiB;
// every reading is acked; the readings kept are exactly the newest ones, and those
// pruned are counted as pruned for size.
func TestSizeLimitNeverExceeded(t *testing.T) {
	const limit = 2 << 20
	const n = 40_000
	path := dbPath(t)
	var a acks
	env := testEnv(nil)
	z := sampleSizes(path)
	env.Hooks.Committed = func([]*pipeline.Record, int) { z.sample() }
	s := retentionSink(t, path, env, Retention{MaxSize: limit, Interval: time.Hour})
	defer s.Close()
	in := make(chan *pipeline.Record, 1024)
	go func() {
		for i := range n {
			in <- a.rec(fmt.Sprintf("dev-%d", i%8), time.Duration(i)*time.Millisecond, 20+float64(i%100)/7, 40.125, float64(i), -3.5)
		}
		close(in)
	}()
	start := time.Now()
	if err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	z.stop()
	z.sample()
	if a.n.Load() != n {
		t.Fatalf("%d readings acked, want %d", a.n.Load(), n)
	}
	if got := z.largest.Load(); got > limit {
		t.Fatalf("database + WAL reached %d bytes, over the %d limit", got, limit)
	}
	c := counts(t, path)
	pruned := metric(t, env.Metrics.PrunedRows.WithLabelValues("inferences", reasonSize))
	if c.Inferences == 0 || c.Inferences >= n/2 || float64(c.Inferences)+pruned != n {
		t.Fatalf("kept %d readings, pruned %v for size; want some kept, most of %d pruned, together %d", c.Inferences, pruned, n, n)
	}
	// Readings were sent in event-time order, so the newest kept are the last c.Inferences.
	var minTs, maxTs int64
	if err := openRO(t, path).db.QueryRow(`SELECT min(ts), max(ts) FROM inferences`).Scan(&minTs, &maxTs); err != nil {
		t.Fatal(err)
	}
	wantMin := t0.Add(time.Duration(n-c.Inferences) * time.Millisecond).UnixNano()
	wantMax := t0.Add(time.Duration(n-1) * time.Millisecond).UnixNano()
	if minTs != wantMin || maxTs != wantMax {
		t.Fatalf("kept ts %d…%d, want the newest %d readings: %d…%d", minTs, maxTs, c.Inferences, wantMin, wantMax)
	}
	if gauge := metric(t, env.Metrics.DBSizeBytes); gauge <= 0 || gauge > limit {
		t.Fatalf("edgepipe_db_size_bytes = %v, want in (0, %d]", gauge, limit)
	}
	t.Logf("%d readings in %v (%.0f/s): largest of %d size samples %d bytes (limit %d), %d kept, %v pruned in %v transactions",
		n, took.Round(time.Millisecond), n/took.Seconds(), z.samples.Load(), z.largest.Load(), limit, c.Inferences, pruned, metric(t, env.Metrics.PruneSeconds))
}

// TestRecordsEstimateBoundsWALFrames commits batches of several shapes with automatic
// checkpoints off, so that the write-ahead log only grows, and checks that each commit
// wrote no more frames than recordsPages estimated.
func TestRecordsEstimateBoundsWALFrames(t *testing.T) {
	path := dbPath(t)
	var a acks
	s := openSink(t, path, testEnv(nil))
	defer s.Close()
	if _, err := s.db.Exec(`PRAGMA wal_autocheckpoint = 0`); err != nil {
		t.Fatal(err)
	}
	const page = 4096
	ctx := context.Background()
	off := 0
	batch := func(n, devices int, dead bool) []*pipeline.Record {
		var out []*pipeline.Record
		for i := range n {
			off++
			if dead {
				out = append(out, a.dead("decode: invalid JSON", fmt.Sprintf(`{"device":"d%d","payload":"%0200d"}`, off, off)))
				continue
			}
			out = append(out, a.rec(fmt.Sprintf("device-%03d", i%devices), time.Duration(off)*time.Millisecond, float64(off)/3, 1e-7*float64(off), 12345.678, -0.5))
		}
		return out
	}
	for _, c := range []struct {
		name string
		recs []*pipeline.Record
	}{
		{"1 reading", batch(1, 1, false)},
		{"512 readings, 1 device", batch(512, 1, false)},
		{"512 readings, 8 devices", batch(512, 8, false)},
		{"512 readings, 512 devices", batch(512, 512, false)},
		{"512 readings, 512 devices again", batch(512, 512, false)},
		{"64 dead letters", batch(64, 1, true)},
	} {
		_, before, err := files(path)
		if err != nil {
			t.Fatal(err)
		}
		est := recordsPages(c.recs, false, page)
		if _, _, err := s.commit(ctx, c.recs); err != nil {
			t.Fatal(err)
		}
		_, after, err := files(path)
		if err != nil {
			t.Fatal(err)
		}
		frames := (after - before) / (page + walFrameHeader)
		if frames <= 0 || frames > est {
			t.Fatalf("%s: %d frames written, estimate %d pages", c.name, frames, est)
		}
		t.Logf("%s: %d frames written, estimate %d", c.name, frames, est)
	}
}

// TestSizeBudget checks the split of a limit, worked out by hand for 4 KiB pages (a log
// frame is 4096 + 24 bytes), and what fits.
func TestSizeBudget(t *testing.T) {
	for _, c := range []struct {
		max                               int64
		wal, data, chunk, ckpt, high, low int64
	}{
		// 2 MiB: the log gets a quarter; chunk = 262144 / 4120 = 63 pages; high = data −
		// chunk (below 95 %); low = high − 2 chunks (below 85 %).
		{2 << 20, 524288, 1572864, 63, 63, 1572864 - 63*4096, 1572864 - 3*63*4096},
		// 1 GiB: the log's share is capped at 64 MiB; chunk = 33554432 / 4120 = 8144
		// pages; autocheckpoint at SQLite's 1000 frames; 95 % and 85 % of data.
		{1 << 30, 64 << 20, 1<<30 - 64<<20, 8144, 1000, (1<<30 - 64<<20) * 95 / 100, (1<<30 - 64<<20) * 85 / 100},
	} {
		b := newSizeBudget(c.max, 4096)
		if b.wal != c.wal || b.data != c.data || b.chunkPages() != c.chunk || b.checkpointFrames() != c.ckpt || b.high != c.high || b.low != c.low {
			t.Errorf("%d: wal %d data %d chunk %d ckpt %d high %d low %d; want %d %d %d %d %d %d", c.max,
				b.wal, b.data, b.chunkPages(), b.checkpointFrames(), b.high, b.low, c.wal, c.data, c.chunk, c.ckpt, c.high, c.low)
		}
	}
	if b := newSizeBudget(MinMaxSize, 65536); b.low > 0 {
		t.Errorf("1 MiB with 64 KiB pages: low %d, want ≤ 0 (refused)", b.low)
	}
	b := newSizeBudget(2<<20, 4096)
	// 380 of the 384 data pages exist, 10 free: 10 new pages come from the freelist.
	full := dbUsage{main: 380 * 4096, wal: 0, pages: 380, free: 10}
	for _, c := range []struct {
		u    dbUsage
		need int64
		want bool
	}{
		{full, 14, true},  // 4 new pages: 384, the share exactly
		{full, 15, false}, // 385 pages
		{dbUsage{main: 100 * 4096, pages: 100, wal: 500_000}, 127, true},             // 409600 + 500000 + 127·4120 = 1433840 ≤ 2 MiB
		{dbUsage{main: 300 * 4096, pages: 300, wal: 500_000, free: 200}, 200, false}, // 1228800 + 500000 + 824000 > 2 MiB
	} {
		if got := b.fits(c.u, c.need); got != c.want {
			t.Errorf("fits(%+v, %d) = %v, want %v", c.u, c.need, got, c.want)
		}
	}
	// 380 pages = 1556480 bytes; + 131 frames · 4120 = 2096200 fits, + 132 = 2100320 not.
	if !b.fitsLog(full, 131) || b.fitsLog(full, 132) {
		t.Errorf("fitsLog(380 pages, 131 / 132 frames) = %v / %v, want true / false", b.fitsLog(full, 131), b.fitsLog(full, 132))
	}
}

// split cuts a batch of readings of 50 devices and dead letters into consecutive parts,
// in order, each within the chunk (or a single record), each carrying recordsPages of
// its records, and no part could have taken the next part's first record.
func TestSplitParts(t *testing.T) {
	var a acks
	var batch []*pipeline.Record
	for i := range 600 {
		if i%97 == 0 {
			batch = append(batch, a.dead("decode: invalid JSON", fmt.Sprintf("%0300d", i)))
			continue
		}
		batch = append(batch, a.rec(fmt.Sprintf("device-%02d", i%50), time.Duration(i)*time.Millisecond, float64(i), 1.5))
	}
	const page, chunk = 4096, 40
	parts := split(batch, false, page, chunk)
	if len(parts) < 3 {
		t.Fatalf("%d parts; the test wants a batch of several chunks", len(parts))
	}
	var joined []*pipeline.Record
	for i, p := range parts {
		if want := recordsPages(p.recs, false, page); p.pages != want {
			t.Fatalf("part %d: %d pages, recordsPages %d", i, p.pages, want)
		}
		if p.pages > chunk && len(p.recs) > 1 {
			t.Fatalf("part %d of %d records: %d pages, over the chunk of %d", i, len(p.recs), p.pages, chunk)
		}
		if i+1 < len(parts) {
			if grown := recordsPages(append(p.recs[:len(p.recs):len(p.recs)], parts[i+1].recs[0]), false, page); grown <= chunk {
				t.Fatalf("part %d ends early: with the next record it is %d pages, within %d", i, grown, chunk)
			}
		}
		joined = append(joined, p.recs...)
	}
	if len(joined) != len(batch) {
		t.Fatalf("parts hold %d records, want %d", len(joined), len(batch))
	}
	for i := range batch {
		if joined[i] != batch[i] {
			t.Fatalf("record %d out of place", i)
		}
	}
}
