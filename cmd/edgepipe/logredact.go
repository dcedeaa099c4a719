package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// minSecretLen is the shortest secret a redactor replaces: a shorter value would mangle
// every line that happens to contain it.
const minSecretLen = 4

// redacted replaces a secret in a log line.
const redacted = "xxxxx"

// redactor is a slog.Handler that replaces every known secret (the config's passwords,
// tokens and URL passwords: pipeline.Config.Secrets) in a record's message and
// attributes with "xxxxx" before the next handler formats it: a last line of defence
// behind the connectors, which never log a secret themselves, for a secret that an
// error from a library might carry. String values are scrubbed in place; an error or
// any other value whose text contains a secret becomes its scrubbed text. Attributes
// given to WithAttrs are scrubbed with the secrets known at that call, so add the
// secrets before building loggers from it.
type redactor struct {
	next slog.Handler
	s    *secretSet
}

// secretSet is the secrets of a redactor and of the handlers derived from it.
type secretSet struct {
	mu      sync.Mutex
	secrets map[string]bool
	rep     atomic.Pointer[strings.Replacer] // nil while there is no secret
}

func newRedactor(next slog.Handler) *redactor {
	return &redactor{next: next, s: &secretSet{secrets: map[string]bool{}}}
}

// add makes the redactor replace each of secrets from now on; values shorter than
// minSecretLen characters are ignored.
func (h *redactor) add(secrets ...string) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if len([]rune(v)) >= minSecretLen {
			s.secrets[v] = true
		}
	}
	if len(s.secrets) == 0 {
		return
	}
	all := make([]string, 0, len(s.secrets))
	for v := range s.secrets {
		all = append(all, v)
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) || len(all[i]) == len(all[j]) && all[i] < all[j] })
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, redacted)
	}
	s.rep.Store(strings.NewReplacer(pairs...))
}

func (h *redactor) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *redactor) WithAttrs(as []slog.Attr) slog.Handler {
	if rep := h.s.rep.Load(); rep != nil {
		out := make([]slog.Attr, len(as))
		for i, a := range as {
			out[i] = scrubAttr(rep, a)
		}
		as = out
	}
	return &redactor{next: h.next.WithAttrs(as), s: h.s}
}

func (h *redactor) WithGroup(name string) slog.Handler {
	return &redactor{next: h.next.WithGroup(name), s: h.s}
}

func (h *redactor) Handle(ctx context.Context, r slog.Record) error {
	rep := h.s.rep.Load()
	if rep == nil {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, rep.Replace(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(rep, a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// scrubAttr returns a with every secret in its value replaced (groups recursively).
func scrubAttr(rep *strings.Replacer, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, rep.Replace(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, ga := range g {
			out[i] = scrubAttr(rep, ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		var s string
		if err, ok := v.Any().(error); ok {
			s = err.Error()
		} else {
			s = fmt.Sprint(v.Any())
		}
		if t := rep.Replace(s); t != s {
			return slog.String(a.Key, t)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
