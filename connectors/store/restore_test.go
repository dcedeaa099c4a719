package store

import (
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// A restart rebuilds the open window from the database: readings stored before the stop
// are counted once in the window that closes after it.
func TestRestoreRebuildsOpenWindows(t *testing.T) {
	path := dbPath(t)
	var a acks
	// Run 1: minute 0 closes (3 readings); minute 1 stays open (1 reading, 1 dead
	// letter); the sink stops without closing it.
	dl := a.rec("d1", 70*time.Second, 9)
	dl.Fail("validate: out of range")
	runAll(t, path, testEnv(newMinuteSummarizer("plant1", false)),
		a.rec("d1", 0, 1), a.rec("d1", 10*time.Second, 2), a.rec("d1", 20*time.Second, 3),
		a.rec("d1", 65*time.Second, 4), dl, a.rec("d2", 5*time.Second, 1))
	if sums := summariesOf(t, path, ""); len(sums) != 1 || sums[0].Count != 3 {
		t.Fatalf("after run 1: summaries %+v, want one with count 3", sums)
	}

	// Run 2, fresh summarizer: a redelivered reading of minute 1 (duplicate), a new one,
	// then one in minute 2 that closes minute 1.
	runAll(t, path, testEnv(newMinuteSummarizer("plant1", false)),
		a.rec("d1", 65*time.Second, 4), a.rec("d1", 80*time.Second, 5), a.rec("d1", 130*time.Second, 6))
	sums := summariesOf(t, path, "d1")
	if len(sums) != 2 {
		t.Fatalf("summaries %+v, want 2", sums)
	}
	if sums[0].Count != 3 || sums[1].Count != 2 || sums[1].DeadLetters != 1 ||
		sums[1].StartMs != t0.Add(time.Minute).UnixMilli() {
		t.Fatalf("summaries %+v, want minute 0 count 3; minute 1 count 2 with 1 dead letter", sums)
	}
	if c := counts(t, path); c.Summaries != 2 || c.Outbox != 2 || c.Inferences != 7 {
		t.Fatalf("counts %+v, want 2 summaries, 2 outbox rows, 7 inferences", c)
	}
}

// Readings committed without their summary (a crash between the two transactions) are
// summarised at the next start.
func TestRestoreSummarisesWindowsClosedBeforeACrash(t *testing.T) {
	path := dbPath(t)
	var a acks
	runAll(t, path, testEnv(nil), a.rec("d1", 0, 1), a.rec("d1", 30*time.Second, 2), a.rec("d1", 61*time.Second, 3))
	runAll(t, path, testEnv(newMinuteSummarizer("plant1", true)))
	sums := summariesOf(t, path, "d1")
	if len(sums) != 2 || sums[0].Count != 2 || sums[1].Count != 1 {
		t.Fatalf("summaries %+v, want counts 2 and 1", sums)
	}
	// A third start has nothing left to rebuild: no window is doubled.
	runAll(t, path, testEnv(newMinuteSummarizer("plant1", true)))
	if c := counts(t, path); c.Summaries != 2 || c.Summarized != 3 {
		t.Fatalf("counts %+v, want 2 summaries over 3 readings", c)
	}
}

// Regression: restore replayed readings and dead letters in event-time order, so a dead
// letter stamped long before the readings but arriving after them (a sensor whose clock
// fell back to 1970) opened an old window on replay that the live run had never had, and
// a restart wrote a summary the first run did not. Replay follows arrival order now.
func TestRestoreReplaysInArrivalOrder(t *testing.T) {
	path := dbPath(t)
	var a acks
	reading := func(sec int) *pipeline.Record { return unique(a.rec("d1", time.Duration(sec)*time.Second, 1)) }
	old := unique(a.rec("d1", 0, 2)) // arrives at t0+30 s, stamped 1970
	old.Time, old.Received = time.Unix(0, 0).UTC(), t0.Add(30*time.Second)
	old.Fail("clean: every field missing")
	newEnv := func() *pipeline.Env {
		env := testEnv(nil)
		env.Summarizer = tumbling(t, 0, false, env.Metrics)
		return env
	}
	runAll(t, path, newEnv(), reading(10), reading(20), old, reading(40)) // [0, 60) stays open
	before := counts(t, path)
	runAll(t, path, newEnv()) // a restart with no new input
	after := counts(t, path)
	if before.Summaries != 0 || after != before {
		t.Fatalf("before restart %+v, after %+v: want no summary (the window is open) before and after", before, after)
	}
}
