package main

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// maxLimitedKeys bounds the messages a repeatLimiter tracks at once; past it, records of
// new messages go through unlimited (a message built with varying text must not make
// the limiter's memory grow without bound).
const maxLimitedKeys = 1024

// suppressedKey is the attribute a repeatLimiter adds to the line that reports what it
// held back.
const suppressedKey = "suppressed"

// repeatLimiter is a slog.Handler that rate-limits repeated warnings and errors: of the
// WARN and ERROR records with the same level, message and source line, the
// first is written at once and the others within the next interval are held back and
// counted. When the interval ends with N held back, the last of them is written with the
// attribute suppressed=N (N records of this message were held back in the interval; the
// line shows the last one, with its own time and attributes), and a new interval starts;
// an interval that ends with none held back ends the limiting, so the next record of that
// message is again written at once. A failure that repeats for an hour thus writes one
// line per interval instead of one per attempt, and none of it is lost from sight.
// Records below WARN go through untouched. Flush writes what is held back (at exit).
//
// The same idea as Linux's printk_ratelimit ("N callbacks suppressed") and zap's
// sampler, with the count carried on the line; github.com/samber/slog-sampling drops
// repeats without saying how many.
type repeatLimiter struct {
	next slog.Handler
	s    *limitState
}

// limitState is shared by a repeatLimiter and the handlers derived from it (WithAttrs,
// WithGroup), so that a message is limited whichever logger wrote it.
type limitState struct {
	interval time.Duration
	mu       sync.Mutex
	windows  map[limitKey]*limitWindow
}

// limitKey identifies a repeated message: its level, its text and the source line that
// logged it (file and line, not the program counter, which differs between the copies of
// an inlined function).
type limitKey struct {
	level slog.Level
	msg   string
	file  string
	line  int
}

// limitWindow is the interval of one message.
type limitWindow struct {
	held  int          // records held back in this interval
	last  slog.Record  // the last of them
	h     slog.Handler // the handler it came through (its attributes and groups)
	timer *time.Timer
}

// newRepeatLimiter returns a handler writing to next with at most one line per interval
// (> 0) for each repeated warning or error.
func newRepeatLimiter(next slog.Handler, interval time.Duration) *repeatLimiter {
	return &repeatLimiter{next: next, s: &limitState{interval: interval, windows: map[limitKey]*limitWindow{}}}
}

func (h *repeatLimiter) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *repeatLimiter) WithAttrs(as []slog.Attr) slog.Handler {
	return &repeatLimiter{next: h.next.WithAttrs(as), s: h.s}
}

func (h *repeatLimiter) WithGroup(name string) slog.Handler {
	return &repeatLimiter{next: h.next.WithGroup(name), s: h.s}
}

// Handle writes r, or holds it back when an earlier record of its message was written
// within the interval.
func (h *repeatLimiter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	k := limitKey{level: r.Level, msg: r.Message}
	if r.PC != 0 {
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		k.file, k.line = f.File, f.Line
	}
	s := h.s
	s.mu.Lock()
	if w, ok := s.windows[k]; ok {
		w.held++
		w.last, w.h = r.Clone(), h.next
		s.mu.Unlock()
		return nil
	}
	if len(s.windows) < maxLimitedKeys {
		s.windows[k] = &limitWindow{timer: time.AfterFunc(s.interval, func() { s.end(k) })}
	}
	s.mu.Unlock()
	return h.next.Handle(ctx, r)
}

// end closes the interval of message k: it writes the last record held back, with the
// count, and starts a new interval, or forgets k when nothing was held back.
func (s *limitState) end(k limitKey) {
	s.mu.Lock()
	w, ok := s.windows[k]
	if !ok {
		s.mu.Unlock()
		return
	}
	if w.held == 0 {
		delete(s.windows, k)
		s.mu.Unlock()
		return
	}
	r, n, h := w.last, w.held, w.h
	w.held, w.last, w.h = 0, slog.Record{}, nil
	w.timer.Reset(s.interval)
	s.mu.Unlock()
	r.AddAttrs(slog.Int(suppressedKey, n))
	_ = h.Handle(context.Background(), r) // a log write that fails has nowhere to be reported
}

// Flush writes, for every message with records held back, the last of them with its
// count, and forgets every interval.
func (h *repeatLimiter) Flush() {
	s := h.s
	s.mu.Lock()
	windows := s.windows
	s.windows = map[limitKey]*limitWindow{}
	s.mu.Unlock()
	for _, w := range windows {
		w.timer.Stop()
		if w.held > 0 {
			r := w.last
			r.AddAttrs(slog.Int(suppressedKey, w.held))
			_ = w.h.Handle(context.Background(), r)
		}
	}
}
