package store

import (
	"context"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

func TestSummariesAndOutboxWrittenOnce(t *testing.T) {
	path := dbPath(t)
	sz := newMinuteSummarizer("plant1", true)
	env := testEnv(sz)
	var hooked []pipeline.Summary
	env.Hooks.Summarized = func(s []pipeline.Summary) { hooked = append(hooked, s...) }
	var a acks
	// Minute 0: 3 readings and a duplicate; minute 1: 2 readings, closed by the drain.
	runAll(t, path, env,
		a.rec("d1", 0, 1), a.rec("d1", 10*time.Second, 2), a.rec("d1", 0, 1), a.rec("d1", 50*time.Second, 3),
		a.rec("d1", 60*time.Second, 4), a.rec("d1", 61*time.Second, 5))
	sums := summariesOf(t, path, "d1")
	if len(sums) != 2 || sums[0].Count != 3 || sums[1].Count != 2 {
		t.Fatalf("summaries %+v, want counts 3 and 2", sums)
	}
	if sums[0].StartMs != t0.UnixMilli() || sums[0].EndMs != t0.Add(time.Minute).UnixMilli() {
		t.Fatalf("window 0 = [%d, %d), want [%d, %d)", sums[0].StartMs, sums[0].EndMs, t0.UnixMilli(), t0.Add(time.Minute).UnixMilli())
	}
	if len(hooked) != 2 || metric(t, env.Metrics.Summaries) != 2 || metric(t, env.Metrics.OutboxDepth) != 2 {
		t.Fatalf("hooked %d, summaries metric %v, outbox depth %v; want 2, 2, 2",
			len(hooked), metric(t, env.Metrics.Summaries), metric(t, env.Metrics.OutboxDepth))
	}

	// Writing the same windows again (a window rebuilt after a restart) changes nothing.
	s := openSink(t, path, testEnv(nil))
	defer s.Close()
	if err := s.summarize(context.Background(), sums); err != nil {
		t.Fatal(err)
	}
	c := counts(t, path)
	if c.Summaries != 2 || c.Outbox != 2 || c.Summarized != 5 {
		t.Fatalf("counts %+v, want 2 summaries, 2 outbox rows, 5 summarized readings", c)
	}
	select {
	case <-s.Outbox().Notify():
		t.Fatal("outbox notified although nothing was added")
	default:
	}
}

func TestOutboxPendingRemove(t *testing.T) {
	s := openSink(t, dbPath(t), testEnv(nil))
	defer s.Close()
	ctx := context.Background()
	var sums []pipeline.Summary
	for i, dev := range []string{"b", "a", "c.d"} {
		mean := 20.5 + float64(i)
		sums = append(sums, pipeline.Summary{Schema: pipeline.SummarySchema, Version: pipeline.SummaryVersion, Site: "plant1",
			Device: dev, StartMs: 60000, EndMs: 120000, Count: i + 1,
			Fields: map[string]pipeline.FieldStats{"temp": {Mean: &mean, Missing: i}}})
	}
	if err := s.summarize(ctx, sums); err != nil {
		t.Fatal(err)
	}
	ob := s.Outbox()
	select {
	case <-ob.Notify():
	default:
		t.Fatal("no outbox notification after new summaries")
	}
	first, err := ob.Pending(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].MsgID != "plant1/b/60000" || first[1].MsgID != "plant1/a/60000" || first[0].ID >= first[1].ID {
		t.Fatalf("pending(2) = %+v, want plant1/b/60000 then plant1/a/60000", first)
	}
	if got := first[1].Summary; got.Count != 2 || *got.Fields["temp"].Mean != 21.5 || got.Fields["temp"].Missing != 1 || got.Fields["temp"].Std != nil {
		t.Fatalf("decoded summary %+v", got)
	}
	if err := ob.Remove(ctx, []int64{first[0].ID}); err != nil {
		t.Fatal(err)
	}
	rest, err := ob.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 2 || rest[0].MsgID != "plant1/a/60000" || rest[1].MsgID != "plant1/c.d/60000" {
		t.Fatalf("pending after remove = %+v", rest)
	}
	if n, err := ob.Len(ctx); err != nil || n != 2 {
		t.Fatalf("Len = %d, %v; want 2", n, err)
	}
	if err := ob.Remove(ctx, []int64{rest[0].ID, rest[1].ID}); err != nil {
		t.Fatal(err)
	}
	if n, _ := ob.Len(ctx); n != 0 || metric(t, s.metrics.OutboxDepth) != 0 {
		t.Fatalf("Len %d, depth gauge %v after removing all; want 0, 0", n, metric(t, s.metrics.OutboxDepth))
	}
	// The summaries stay in their table after the outbox is drained.
	if c, err := (&DB{db: s.db}).Counts(ctx); err != nil || c.Summaries != 3 || c.Outbox != 0 {
		t.Fatalf("counts %+v, %v; want 3 summaries, empty outbox", c, err)
	}
}
