package store

import (
	"context"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// TestOutboxGaugesAndHealth checks edgepipe_outbox_depth and
// edgepipe_outbox_oldest_age_seconds as summaries are written and removed, the age
// growing with the oldest entry's, and the store's readiness check following
// edgepipe_store_healthy.
func TestOutboxGaugesAndHealth(t *testing.T) {
	s := openSink(t, dbPath(t), testEnv(nil))
	defer s.Close()
	ctx := context.Background()
	age := func() float64 {
		t.Helper()
		mfs, err := s.metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "edgepipe_outbox_oldest_age_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no edgepipe_outbox_oldest_age_seconds")
		return 0
	}
	write := func(device string) {
		t.Helper()
		err := s.summarize(ctx, []pipeline.Summary{{Schema: pipeline.SummarySchema, Version: pipeline.SummaryVersion, Site: "plant1",
			Device: device, StartMs: 60000, EndMs: 120000, Count: 1}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if d, a := metric(t, s.metrics.OutboxDepth), age(); d != 0 || a != 0 {
		t.Fatalf("empty outbox: depth %v, age %v; want 0, 0", d, a)
	}
	write("a")
	time.Sleep(300 * time.Millisecond)
	write("b")
	if d, a := metric(t, s.metrics.OutboxDepth), age(); d != 2 || a < 0.3 || a > 5 {
		t.Fatalf("two entries, the oldest 0.3 s old: depth %v, age %v", d, a)
	}
	pending, err := s.Outbox().Pending(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Outbox().Remove(ctx, []int64{pending[0].ID}); err != nil {
		t.Fatal(err)
	}
	if d, a := metric(t, s.metrics.OutboxDepth), age(); d != 1 || a >= 0.3 {
		t.Fatalf("after removing the oldest: depth %v, age %v; want 1 and the younger entry's age (< 0.3 s)", d, a)
	}

	if c := s.Health(); !c.OK || c.Name != "store" {
		t.Fatalf("health %+v, want ok", c)
	}
	s.metrics.StoreHealthy.Set(0) // what a failed transaction does (retry)
	if c := s.Health(); c.OK {
		t.Fatalf("health %+v after a failed transaction, want not ready", c)
	}
}
