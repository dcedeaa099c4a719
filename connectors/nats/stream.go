package natsconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// permanentError is a failure that retrying cannot fix (the stream's configuration does
// not fit ours); the forwarder stops with it instead of retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// ensureStream makes sure the JetStream stream name exists and stores every summary
// subject, `<prefix>.*.summary.*`. A missing stream is created with subjects `<prefix>.>`,
// file storage and the given duplicate window. An existing stream's configuration is left
// alone; when its subjects do not cover the summary subjects the error is permanent. A stream whose duplicate window is shorter than dupWindow is
// used as is and reported through warn. Other errors (no connection, timeouts) are
// transient.
func ensureStream(ctx context.Context, js jetstream.JetStream, name, prefix string, dupWindow time.Duration, warn func(msg string, args ...any)) error {
	create, want := prefix+".>", prefix+".*.summary.*"
	for {
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			_, err = js.CreateStream(ctx, jetstream.StreamConfig{
				Name:        name,
				Description: "edgepipe window summaries",
				Subjects:    []string{create},
				Storage:     jetstream.FileStorage,
				Duplicates:  dupWindow,
			})
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue // created concurrently by another gateway: inspect it
			}
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.Code == 400 {
				return &permanentError{fmt.Errorf("create stream %s with subjects %s: %w", name, create, err)}
			}
			if err != nil {
				return fmt.Errorf("create stream %s: %w", name, err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("look up stream %s: %w", name, err)
		}
		cfg := s.CachedInfo().Config
		if !anyCovers(cfg.Subjects, want) {
			return &permanentError{fmt.Errorf("stream %s stores subjects [%s], which do not cover the summary subjects %s: add %s to the stream or set subject_prefix/stream to match",
				name, strings.Join(cfg.Subjects, ", "), want, create)}
		}
		if cfg.Duplicates < dupWindow {
			warn("nats: existing stream keeps a shorter duplicate window than configured; a resend after it is stored twice",
				"stream", name, "stream_duplicates", cfg.Duplicates, "duplicate_window", dupWindow)
		}
		return nil
	}
}

func anyCovers(patterns []string, subject string) bool {
	for _, p := range patterns {
		if covers(p, subject) {
			return true
		}
	}
	return false
}

// covers reports whether NATS subject pattern matches every subject that subject (which
// may itself hold wildcards) matches: '*' matches one token, '>' one or more trailing
// tokens.
func covers(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, pt := range p {
		if pt == ">" {
			return i < len(s)
		}
		if i >= len(s) || s[i] == ">" {
			return false
		}
		if pt != "*" && pt != s[i] {
			return false
		}
	}
	return len(p) == len(s)
}
