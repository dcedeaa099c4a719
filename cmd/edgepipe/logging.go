package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// logRepeatInterval is how often a repeated warning or error is written at most
// (repeatLimiter).
const logRepeatInterval = time.Minute

// logging is a command's logger and its controls: its level (changed by edgepipe run on
// SIGHUP), the secrets it scrubs and the repeats it holds back.
type logging struct {
	*slog.Logger
	// level is the level in force; flagLevel is --log-level's.
	level     *slog.LevelVar
	flagLevel slog.Level
	redact    *redactor
	limit     *repeatLimiter
}

// setup returns the logging of the flags, writing to stderr: slog's text format
// (key=value, readable on a terminal) or JSON lines (--log-format json), secrets
// scrubbed, repeated warnings and errors written at most once a minute.
func (l *logFlags) setup() (*logging, error) { return l.setupTo(os.Stderr, logRepeatInterval) }

// setupTo is setup writing to w, with repeats limited to one line per interval.
func (l *logFlags) setupTo(w io.Writer, interval time.Duration) (*logging, error) {
	lg := &logging{level: new(slog.LevelVar)}
	if err := lg.flagLevel.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	lg.level.Set(lg.flagLevel)
	opts := &slog.HandlerOptions{Level: lg.level}
	var base slog.Handler
	switch l.format {
	case "text":
		base = slog.NewTextHandler(w, opts)
	case "json":
		base = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("--log-format: %q is not text or json", l.format)
	}
	lg.redact = newRedactor(base)
	lg.limit = newRepeatLimiter(lg.redact, interval)
	lg.Logger = slog.New(lg.limit)
	return lg, nil
}

// configLevel returns the log level a pipeline file asks for (its log_level key), or
// --log-level's when it sets none.
func (lg *logging) configLevel(cfg *pipeline.Config) slog.Level {
	var l slog.Level
	if s := cfg.Top.String(pipeline.KeyLogLevel); s == "" || l.UnmarshalText([]byte(s)) != nil {
		return lg.flagLevel
	}
	return l
}
