package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgepipe/edgepipe/pipeline"
)

// hupReloader applies a SIGHUP to a running `edgepipe run`. What can change safely is
// applied: the model files are read again (pipeline.Pipeline.Reload: weights, scalers and
// thresholds, swapped between two inference batches, so no reading is lost or scored
// twice) and the log level is set from the file's log_level (or --log-level when the
// file sets none). Every other key whose value in the file now differs from the
// configuration running is logged as needing a restart; it is compared with the
// configuration the process started with, so a later SIGHUP names it again.
type hupReloader struct {
	file    string
	running *pipeline.Config
	p       *pipeline.Pipeline
	lg      *logging
}

// notifyHUP starts catching SIGHUP (whose default action ends the process) and returns
// the channel that receives it, and the function that stops catching it.
func notifyHUP() (<-chan os.Signal, func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}

// watch reloads on every signal received on hup (notifyHUP) until ctx ends.
func (h *hupReloader) watch(ctx context.Context, hup <-chan os.Signal) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				h.reload()
			}
		}
	}()
}

// reload applies the config file and the model files once (see hupReloader). A config
// file with errors changes nothing of the configuration (each error is logged); the
// model files are reloaded all the same.
func (h *hupReloader) reload() {
	log := h.lg.Logger
	log.Info("SIGHUP: reloading", "config", h.file)
	var restart []string
	next, err := pipeline.Load(h.file)
	if err != nil {
		log.Error("SIGHUP: the config file has errors; the running configuration stays", "err", err)
	} else {
		h.lg.redact.add(next.Secrets()...)
		if lvl := h.lg.configLevel(next); lvl != h.lg.level.Level() {
			log.Info("log level changed", "from", h.lg.level.Level(), "to", lvl)
			h.lg.level.Set(lvl)
		}
		for _, k := range pipeline.Changes(h.running, next) {
			if k == pipeline.KeyLogLevel {
				continue
			}
			restart = append(restart, k)
			log.Warn("config key " + k + " changed: restart edgepipe to apply it")
		}
	}
	_ = h.p.Reload() // a model swap, or the file refused and why, is logged by the reload itself
	log.Info("SIGHUP: reload done", "log_level", h.lg.level.Level(), "restart_needed", restart)
}
