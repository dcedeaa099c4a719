package store

import (
	"testing"
	"time"
)

// Readings of one device at one event time with different values are all kept and each
// one after the first counts as conflicting, in order or not, within a batch, across
// batches and after a restart (the latest time per device is then read from the store);
// a redelivery (same values) is a duplicate, not a conflict, and another device at the
// same time is neither.
func TestSinkCountsConflictingReadings(t *testing.T) {
	path := dbPath(t)
	var a acks
	env := testEnv(nil)
	runAll(t, path, env,
		a.rec("d1", 0, 1), a.rec("d1", 0, 2), a.rec("d1", 0, 1), // conflict, duplicate
		a.rec("d1", 10*time.Second, 1), a.rec("d1", 0, 3), // conflict behind the latest time
		a.rec("d2", 0, 9))
	if c, d, s := metric(t, env.Metrics.Conflicts), metric(t, env.Metrics.Duplicates), metric(t, env.Metrics.Stored); c != 2 || d != 1 || s != 5 {
		t.Fatalf("run 1: conflicts %v, duplicates %v, stored %v; want 2, 1, 5", c, d, s)
	}
	env2 := testEnv(nil)
	runAll(t, path, env2, a.rec("d1", 0, 4), a.rec("d1", 20*time.Second, 1), a.rec("d2", 0, 9), a.rec("d3", 0, 1))
	if c, d, s := metric(t, env2.Metrics.Conflicts), metric(t, env2.Metrics.Duplicates), metric(t, env2.Metrics.Stored); c != 1 || d != 1 || s != 3 {
		t.Fatalf("run 2: conflicts %v, duplicates %v, stored %v; want 1, 1, 3", c, d, s)
	}
	if c := counts(t, path); c.Inferences != 8 {
		t.Fatalf("counts %+v, want 8 readings (4 of d1 at 0 s)", c)
	}
}
