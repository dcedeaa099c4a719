package pipeline

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
)

// Lint checks a pipeline file without running it and returns every problem found, sorted
// by position: YAML, unknown keys, types and bounds, and then the errors of building, in
// dry-run mode (Env.DryRun: nothing is created or connected), each component whose own
// fields are valid — a missing model file, feature widths that do not match, an
// inconsistent option. It returns nil for a good file. Variables of ${VAR} references
// come from the process environment.
func Lint(file string, data []byte) ConfigErrors {
	cfg, errs := parse(file, data, os.LookupEnv)
	if cfg == nil || !cfg.Top.Has(KeyFields) {
		return sortErrors(errs)
	}
	env := Env{DryRun: true, Dir: filepath.Dir(file), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p, err := Build(cfg, env)
	if err == nil {
		p.Close()
	}
	var ces ConfigErrors
	if errors.As(err, &ces) {
		errs = append(errs, ces...)
	} else if err != nil {
		errs = append(errs, &ConfigError{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: err.Error()})
	}
	return sortErrors(errs)
}

func sortErrors(errs ConfigErrors) ConfigErrors {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Pos, errs[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return errs
}
