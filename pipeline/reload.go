package pipeline

import "errors"

// Reloader is implemented by components that can read their external state again while
// the pipeline runs, without losing or repeating a record: the infer operator reloads
// its model file (weights, scalers and thresholds) and swaps the new model in between
// two batches.
type Reloader interface {
	// Reload reads the state again and applies it, or keeps the current one and returns
	// why the new one was refused.
	Reload() error
}

// Reload calls Reload on every component that implements Reloader (source, operators in
// order, store, output) and returns their errors joined (each names what it reloaded, a
// model file's error its path); nil when all succeeded or none can reload. It is safe to call
// concurrently with Run (edgepipe run calls it on SIGHUP). Configuration keys are not
// reloaded: see Changes.
func (p *Pipeline) Reload() error {
	var errs []error
	for _, r := range p.reloaders {
		errs = append(errs, r.Reload())
	}
	return errors.Join(errs...)
}
