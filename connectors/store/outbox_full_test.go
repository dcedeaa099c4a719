package store

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// fiveSummaries are device d1's summaries of the minute windows 0 … 4 after t0.
func fiveSummaries() []pipeline.Summary {
	var out []pipeline.Summary
	for w := range 5 {
		start := t0.Add(time.Duration(w) * time.Minute).UnixMilli()
		out = append(out, pipeline.Summary{Schema: pipeline.SummarySchema, Version: pipeline.SummaryVersion,
			Device: "d1", StartMs: start, EndMs: start + 60_000, Count: w + 1})
	}
	return out
}

// pendingIDs returns the outbox's entries as their window starts (the last part of the
// msg id, ms) joined by commas, oldest first, and their ids.
func pendingIDs(t *testing.T, ob *outbox) (string, []int64) {
	t.Helper()
	es, err := ob.Pending(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	var ids []int64
	for _, e := range es {
		parts = append(parts, MsgID(e.Summary)[len("plant1/d1/"):])
		ids = append(ids, e.ID)
	}
	return strings.Join(parts, ","), ids
}

// ms is the start (ms since the epoch, as in a msg id) of the window w minutes after t0.
func ms(w int) string { return strconv.FormatInt(t0.Add(time.Duration(w)*time.Minute).UnixMilli(), 10) }

func waitingCount(t *testing.T, s *Sink) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM summaries WHERE queued = 0`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOutboxFullRefuse: with room for 3, five new summaries put the oldest three in the
// outbox and keep the two newest waiting in summaries (2 refused); removing two sent
// entries queues the two waiting ones, in order, in the same transaction; and a
// restart with a larger limit queues what still waits.
func TestOutboxFullRefuse(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	s := retentionSink(t, path, env, Retention{OutboxMaxRows: 3, OutboxFull: OutboxRefuse})
	defer s.Close()
	ctx := context.Background()
	if err := s.summarize(ctx, fiveSummaries()); err != nil {
		t.Fatal(err)
	}
	got, ids := pendingIDs(t, s.outbox)
	if want := ms(0) + "," + ms(1) + "," + ms(2); got != want {
		t.Fatalf("outbox %s, want the oldest three %s", got, want)
	}
	if w := waitingCount(t, s); w != 2 || metric(t, env.Metrics.OutboxRefused) != 2 || metric(t, env.Metrics.OutboxDropped) != 0 {
		t.Fatalf("%d waiting, refused %v, dropped %v; want 2, 2, 0", w, metric(t, env.Metrics.OutboxRefused), metric(t, env.Metrics.OutboxDropped))
	}
	if c := counts(t, path); c.Summaries != 5 || metric(t, env.Metrics.Summaries) != 5 || metric(t, env.Metrics.OutboxDepth) != 3 {
		t.Fatalf("%d summaries stored, %v counted, depth %v; want 5, 5, 3", c.Summaries, metric(t, env.Metrics.Summaries), metric(t, env.Metrics.OutboxDepth))
	}
	<-s.outbox.Notify() // the first three
	if err := s.outbox.Remove(ctx, ids[:2]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.outbox.Notify():
	default:
		t.Fatal("Remove queued summaries without signalling Notify")
	}
	if got, _ := pendingIDs(t, s.outbox); got != ms(2)+","+ms(3)+","+ms(4) || waitingCount(t, s) != 0 {
		t.Fatalf("after removing two: outbox %s, %d waiting; want %s,%s,%s and 0", got, waitingCount(t, s), ms(2), ms(3), ms(4))
	}
	// Summarising the same windows again (a restart's rebuild) writes, queues and
	// refuses nothing.
	if err := s.summarize(ctx, fiveSummaries()); err != nil {
		t.Fatal(err)
	}
	if metric(t, env.Metrics.OutboxRefused) != 2 || metric(t, env.Metrics.Summaries) != 5 {
		t.Fatalf("a repeated summary counted: refused %v, summaries %v", metric(t, env.Metrics.OutboxRefused), metric(t, env.Metrics.Summaries))
	}
	s.Close()

	// Two more windows with the outbox full wait; a restart with room for 10 queues them.
	more := fiveSummaries()
	more[0].StartMs, more[1].StartMs = t0.Add(5*time.Minute).UnixMilli(), t0.Add(6*time.Minute).UnixMilli()
	s = retentionSink(t, path, testEnv(nil), Retention{OutboxMaxRows: 3})
	if err := s.summarize(ctx, more[:2]); err != nil {
		t.Fatal(err)
	}
	if w := waitingCount(t, s); w != 2 {
		t.Fatalf("%d waiting, want 2", w)
	}
	s.Close()
	s = retentionSink(t, path, testEnv(nil), Retention{OutboxMaxRows: 10})
	in := make(chan *pipeline.Record)
	close(in)
	if err := s.Run(ctx, in); err != nil {
		t.Fatal(err)
	}
	if got, _ := pendingIDs(t, s.outbox); got != ms(2)+","+ms(3)+","+ms(4)+","+ms(5)+","+ms(6) || waitingCount(t, s) != 0 {
		t.Fatalf("after a restart with room: outbox %s, %d waiting", got, waitingCount(t, s))
	}
}

// TestOutboxFullDropOldest: with room for 3, five new summaries leave the newest three in
// the outbox; the two oldest entries are dropped (counted) and stay in summaries.
func TestOutboxFullDropOldest(t *testing.T) {
	path := dbPath(t)
	env := testEnv(nil)
	s := retentionSink(t, path, env, Retention{OutboxMaxRows: 3, OutboxFull: OutboxDropOldest})
	defer s.Close()
	if err := s.summarize(context.Background(), fiveSummaries()); err != nil {
		t.Fatal(err)
	}
	got, _ := pendingIDs(t, s.outbox)
	if want := ms(2) + "," + ms(3) + "," + ms(4); got != want {
		t.Fatalf("outbox %s, want the newest three %s", got, want)
	}
	if w := waitingCount(t, s); w != 0 || metric(t, env.Metrics.OutboxDropped) != 2 || metric(t, env.Metrics.OutboxRefused) != 0 {
		t.Fatalf("%d waiting, dropped %v, refused %v; want 0, 2, 0", w, metric(t, env.Metrics.OutboxDropped), metric(t, env.Metrics.OutboxRefused))
	}
	if c := counts(t, path); c.Summaries != 5 || c.Outbox != 3 {
		t.Fatalf("%d summaries, %d outbox rows; want 5, 3", c.Summaries, c.Outbox)
	}
}
