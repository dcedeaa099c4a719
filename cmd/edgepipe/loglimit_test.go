package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// lines returns the lines written so far.
func (l *syncBuffer) lines() []string {
	s := strings.TrimSpace(l.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// newLimited returns a text logger with repeats limited to one line per interval, and its
// output.
func newLimited(t *testing.T, interval time.Duration) (*slog.Logger, *repeatLimiter, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	lg, err := (&logFlags{format: "text", level: "debug"}).setupTo(out, interval)
	if err != nil {
		t.Fatal(err)
	}
	return lg.Logger, lg.limit, out
}

// TestRepeatLimiterHoldsBackRepeatsAndCounts logs one error 5 times from one call site:
// the first is written at once, the other 4 are held back and, when the interval ends,
// the last of them is written with suppressed=4; a repeat after that starts a new
// interval and is reported when it ends; a quiet interval ends the limiting.
func TestRepeatLimiterHoldsBackRepeatsAndCounts(t *testing.T) {
	const interval = 150 * time.Millisecond
	log, _, out := newLimited(t, interval)
	fail := func(i int) { log.Error("store: transaction failed", "attempt", i, "err", errors.New("disk I/O error")) }
	for i := 1; i <= 5; i++ {
		fail(i)
	}
	if l := out.lines(); len(l) != 1 || !strings.Contains(l[0], "attempt=1 ") || strings.Contains(l[0], "suppressed") {
		t.Fatalf("after 5 repeats within the interval: %q, want only the first", l)
	}
	waitUntil(t, 2*time.Second, func() bool { return len(out.lines()) == 2 })
	if l := out.lines()[1]; !strings.Contains(l, "attempt=5 ") || !strings.HasSuffix(l, "suppressed=4") || !strings.Contains(l, "level=ERROR") {
		t.Fatalf("the end of the interval wrote %q, want the 5th with suppressed=4", l)
	}
	fail(6) // within the interval the report started
	time.Sleep(interval / 3)
	if n := len(out.lines()); n != 2 {
		t.Fatalf("a repeat right after the report was written (%d lines)", n)
	}
	waitUntil(t, 2*time.Second, func() bool { return len(out.lines()) == 3 })
	if l := out.lines()[2]; !strings.Contains(l, "attempt=6 ") || !strings.HasSuffix(l, "suppressed=1") {
		t.Fatalf("second report %q, want the 6th with suppressed=1", l)
	}
	time.Sleep(3 * interval) // a quiet interval: the limiting ends
	fail(7)
	if l := out.lines(); len(l) != 4 || !strings.Contains(l[3], "attempt=7 ") || strings.Contains(l[3], "suppressed") {
		t.Fatalf("after a quiet interval: %q, want the 7th written at once", l)
	}
}

// TestRepeatLimiterKeysAndLevels checks what is limited together: one message from one
// call site, whichever logger derived with With wrote it; the same message from another
// call site or at another level is written, INFO is never limited, and Flush writes what
// is held back, through the handler of the last record (its With attributes).
func TestRepeatLimiterKeysAndLevels(t *testing.T) {
	log, limit, out := newLimited(t, time.Hour)
	warn := func(l *slog.Logger) { l.Warn("mqtt connect failed") }
	for range 3 {
		warn(log) // one call site: 1 written, 2 held back
	}
	warn(log.With("connector", "nats")) // the same call site through another logger: held back
	log.Warn("mqtt connect failed")     // another call site
	log.Error("mqtt connect failed")    // another level
	for range 3 {
		log.Info("mqtt reconnecting")
	}
	l := out.lines()
	if len(l) != 6 {
		t.Fatalf("wrote %d lines, want 6 (1 + 1 + 1 + 3 INFO):\n%s", len(l), strings.Join(l, "\n"))
	}
	limit.Flush()
	l = out.lines()
	if len(l) != 7 || !strings.Contains(l[6], "level=WARN") || !strings.Contains(l[6], "connector=nats") || !strings.HasSuffix(l[6], "suppressed=3") {
		t.Fatalf("Flush wrote %q, want the held-back warning with connector=nats and suppressed=3", l[6:])
	}
}

// waitUntil polls cond every 10 ms until it holds, failing after timeout.
func waitUntil(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
