package operators

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/fsnotify/fsnotify"
)

// reloadDelay is how long a model file must stay quiet after a change before Watch
// reloads it: a copy or an editor writes a file in several steps, each an event.
const reloadDelay = 250 * time.Millisecond

// ModelFile is a model file held in memory that can be replaced while the pipeline runs
// (hot swap). Current is the model serving; Reload reads the file again and swaps in the
// new model only when it is valid (models.Load) and fits the running pipeline
// (models.CheckReplacement); otherwise the old model keeps serving. Watch reloads on every
// change of the file. It is safe for concurrent use.
type ModelFile struct {
	path    string
	log     *slog.Logger
	metrics *pipeline.Metrics // nil: nothing counted
	delay   time.Duration     // reloadDelay; shorter in tests
	cur     atomic.Pointer[models.Dense]
	mu      sync.Mutex // serialises Reload
}

// OpenModelFile loads the model file at path (see models.Load for the checks). log may be
// nil (nothing logged); metrics may be nil, otherwise edgepipe_model_info is set for the
// model and Reload counts in edgepipe_model_swaps_total. It returns models.Load's error,
// which names the file.
func OpenModelFile(path string, log *slog.Logger, metrics *pipeline.Metrics) (*ModelFile, error) {
	m, err := models.Load(path)
	if err != nil {
		return nil, err
	}
	f := &ModelFile{path: path, log: orDiscard(log), metrics: metrics, delay: reloadDelay}
	f.cur.Store(m)
	if metrics != nil {
		metrics.ModelInfo.WithLabelValues(m.Meta().Name, m.Meta().Version).Set(1)
	}
	return f, nil
}

// sharedModelFile returns the pipeline's ModelFile for path, opening it on first use, so
// that the stages naming one file (normalize, infer) serve the same model and swap it
// together. Without env.Shared every call opens the file anew.
func sharedModelFile(env *pipeline.Env, path string) (*ModelFile, error) {
	key := "operators.model:" + path
	if abs, err := filepath.Abs(path); err == nil {
		key = "operators.model:" + abs
	}
	if env.Shared != nil {
		if v, ok := env.Shared.Load(key); ok {
			return v.(*ModelFile), nil
		}
	}
	f, err := OpenModelFile(path, env.Log, env.Metrics)
	if err != nil || env.Shared == nil {
		return f, err
	}
	v, _ := env.Shared.LoadOrStore(key, f)
	return v.(*ModelFile), nil
}

// Current returns the model serving now. A caller that must use one model for a whole
// computation (a batch) calls it once and keeps the result.
func (f *ModelFile) Current() *models.Dense { return f.cur.Load() }

// Reload reads the file again. When it holds the model already serving (same version)
// nothing happens. When it holds a valid model that models.CheckReplacement accepts, that
// model serves from now on: Reload logs "model swapped from <old> to <new>" and counts
// result "ok". Otherwise — the file is missing, truncated, corrupt (hash mismatch),
// invalid or incompatible — Reload logs the error, counts result "rejected", keeps the
// old model and returns the error, which names the file.
func (f *ModelFile) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.cur.Load()
	next, err := models.Load(f.path)
	if err == nil && next.Meta().Version == old.Meta().Version {
		return nil
	}
	if err == nil {
		if err = models.CheckReplacement(old, next); err != nil {
			err = fmt.Errorf("%s: %w", f.path, err)
		}
	}
	if err != nil {
		f.log.Error("model file rejected; the running model keeps serving", "file", f.path, "model", old.Meta().Version, "err", err)
		f.count("rejected")
		return err
	}
	f.cur.Store(next)
	om, nm := old.Meta(), next.Meta()
	f.log.Info(fmt.Sprintf("model swapped from %s to %s", om.Version, nm.Version), "file", f.path, "name", nm.Name)
	f.count("ok")
	if f.metrics != nil {
		f.metrics.ModelInfo.DeleteLabelValues(om.Name, om.Version)
		f.metrics.ModelInfo.WithLabelValues(nm.Name, nm.Version).Set(1)
	}
	return nil
}

func (f *ModelFile) count(result string) {
	if f.metrics != nil {
		f.metrics.ModelSwaps.WithLabelValues(result).Inc()
	}
}

// Watch reloads the file (Reload) whenever it changes, until ctx is cancelled; it then
// returns nil. It watches the file's folder (fsnotify: inotify, kqueue, ReadDirectoryChangesW),
// so a replacement by rename — a temporary file renamed over the model, as models.Save
// and model pushes do — is seen as well as an in-place write; events on the file within
// reloadDelay of each other cause one reload. It returns an error when the folder cannot
// be watched (no inotify instance left, folder gone).
func (f *ModelFile) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch model file %s: %w", f.path, err)
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("watch model file %s: %w", f.path, err)
	}
	name := filepath.Base(f.path)
	quiet := time.NewTimer(f.delay)
	quiet.Stop()
	var reload <-chan time.Time // non-nil while a reload is due
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if filepath.Base(ev.Name) == name && ev.Op&^fsnotify.Chmod != 0 {
				quiet.Reset(f.delay)
				reload = quiet.C
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			f.log.Warn("model file watch", "file", f.path, "err", err)
		case <-reload:
			reload = nil
			_ = f.Reload() // logged and counted by Reload
		}
	}
}
