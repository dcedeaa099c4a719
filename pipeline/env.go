package pipeline

import (
	"log/slog"
	"path/filepath"
	"sync"
)

// Env is what a component's Build gets besides its own Conf.
type Env struct {
	// Name and Site are the pipeline's name and site (top-level keys).
	Name, Site string
	// Fields are the pipeline's field names, vector fields expanded; Record.Values[i] is
	// Fields[i].
	Fields []string
	// Vectors are the pipeline's vector fields (entries name[N] of the fields list), each
	// a run of Fields that a decoder fills from one payload array.
	Vectors []Vector
	// Dir is the folder of the config file; relative paths in a config resolve from it.
	Dir string
	// Log is the pipeline's logger.
	Log *slog.Logger
	// Metrics are the engine's shared metrics.
	Metrics *Metrics
	// Summarizer is built before the store, which folds committed records into it.
	Summarizer Summarizer
	// DryRun asks Build to validate only (edgepipe lint): a component must not create
	// files, connect or start anything, and its result is never run, only closed.
	DryRun bool
	// Hooks are optional callbacks for programs embedding a pipeline (the demo's report).
	Hooks Hooks
	// Shared holds what the components of one pipeline share, by key: the normalize and
	// infer operators that name one model file share its hot-swapped model. Build sets
	// it; nil = nothing is shared.
	Shared *sync.Map
}

// Hooks are callbacks a sink calls after durable events. They run on the sink's
// goroutine and must be quick.
type Hooks struct {
	// Committed is called after a transaction with the records it newly stored,
	// including dead letters, and the number of redelivered records it found already
	// stored (duplicates, not stored again), before they are acked.
	Committed func(recs []*Record, duplicates int)
	// Summarized is called after summaries and their outbox rows were committed.
	Summarized func(sums []Summary)
}

// Path resolves a path from the config against the config's folder.
func (e *Env) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || e.Dir == "" {
		return p
	}
	return filepath.Join(e.Dir, p)
}
