package store

import (
	"context"
	"testing"
)

// Within remeasure of a measurement the gate admits writes on the bound of that
// measurement plus every page written since; a write that does not fit the bound is
// measured again, and a write through exclusive (a checkpoint, a vacuum) drops the bound.
func TestWriteGateAdmitsOnBound(t *testing.T) {
	s := retentionSink(t, dbPath(t), testEnv(nil), Retention{MaxSize: 4 << 20})
	defer s.Close()
	g, ctx := s.gate, context.Background()
	if _, ok := g.bound(); ok {
		t.Fatal("a bound before any measurement")
	}
	nop := func() error { return nil }
	if err := g.do(ctx, s.db, 10, nop); err != nil {
		t.Fatal(err)
	}
	measured, err := measure(ctx, s.db, s.path)
	if err != nil {
		t.Fatal(err)
	}
	if g.last != measured || g.grown != 10 {
		t.Fatalf("after a measured write: last %+v, grown %d; want %+v, 10", g.last, g.grown, measured)
	}
	if err := g.do(ctx, s.db, 15, nop); err != nil {
		t.Fatal(err)
	}
	u, ok := g.bound()
	page := g.budget.page
	if !ok || g.grown != 25 || u.pages != measured.pages+25 || u.free != 0 || u.wal != measured.wal+25*(page+walFrameHeader) || u.main != measured.main {
		t.Fatalf("after a write on the bound: %+v (ok %v), grown %d; want %d pages, no free page, wal %d, main %d",
			u, ok, g.grown, measured.pages+25, measured.wal+25*(page+walFrameHeader), measured.main)
	}
	// A write that fits the limit but not the bound is measured: the bound restarts.
	big := int64(0) // the largest write that fits the measurement
	for g.budget.fits(measured, big+1) {
		big++
	}
	if g.budget.fits(u, big) || !g.budget.fits(measured, big) {
		t.Fatalf("the test's write of %d pages should fit the measurement only", big)
	}
	if err := g.do(ctx, s.db, big, nop); err != nil {
		t.Fatal(err)
	}
	if g.grown != big {
		t.Fatalf("grown %d after a measured write of %d pages", g.grown, big)
	}
	if err := g.exclusive(nop); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.bound(); ok {
		t.Fatal("a bound after a write through exclusive")
	}
}
