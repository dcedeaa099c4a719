package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/pipeline"
)

func runCmd(lf *logFlags) *cobra.Command {
	var file, metrics, pprofAddr string
	cmd := &cobra.Command{
		Use:   "run -c FILE",
		Short: "Run a pipeline file until SIGINT or SIGTERM, then drain and exit 0; SIGHUP reloads the model files and the log level",
		Long: `Run a pipeline file until SIGINT or SIGTERM, then drain (commit, ack, forward the
outbox) and exit 0.

SIGHUP reloads what can change safely while readings flow: the model files (weights,
scalers, thresholds; swapped between two inference batches) and the file's log_level.
Every other key changed in the file is logged as needing a restart.

--metrics ADDR serves /metrics (Prometheus), /healthz (liveness) and /readyz (200 only
when MQTT is connected and subscribed, the store commits, and NATS is connected or the
outbox is under ready_outbox_limit; 503 with the failing checks otherwise). An ADDR that
gives only a port (":9464") listens on 127.0.0.1; name a host (0.0.0.0:9464) to listen
on the network. --pprof ADDR serves the Go profiler at /debug/pprof/ the same way.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			hup, stopHUP := notifyHUP()
			defer stopHUP()
			lg, err := lf.setup()
			if err != nil {
				return err
			}
			defer lg.limit.Flush()
			cfg, err := pipeline.Load(file)
			if err != nil {
				return printConfigErrors(err)
			}
			lg.redact.add(cfg.Secrets()...)
			lg.level.Set(lg.configLevel(cfg))
			log := lg.Logger
			p, err := pipeline.Build(cfg, pipeline.Env{Log: log, Dir: filepath.Dir(file)})
			if err != nil {
				return printConfigErrors(err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hctx, hstop := context.WithCancel(context.Background())
			defer hstop()
			(&hupReloader{file: file, running: cfg, p: p, lg: lg}).watch(hctx, hup)
			for _, s := range []struct {
				flag, addr, what, path string
				h                      http.Handler
			}{
				{"--metrics", metrics, "metrics", "/metrics", statusHandler(p)},
				{"--pprof", pprofAddr, "pprof", "/debug/pprof/", pprofHandler()},
			} {
				if s.addr == "" {
					continue
				}
				srv, err := listen(s.addr, s.h)
				if err != nil {
					p.Close()
					return fmt.Errorf("%s: %w", s.flag, err)
				}
				defer srv.Close()
				log.Info(s.what, "url", "http://"+srv.Addr+s.path)
			}
			log.Info("pipeline started", "config", file, "name", p.Env().Name, "site", p.Env().Site)
			if err := p.Run(ctx); err != nil {
				return err
			}
			log.Info("pipeline stopped")
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "pipeline file (YAML)")
	cmd.Flags().StringVar(&metrics, "metrics", "", "serve /metrics, /healthz and /readyz on this address, e.g. :9464 (port only: 127.0.0.1) or 0.0.0.0:9464 (off by default)")
	cmd.Flags().StringVar(&pprofAddr, "pprof", "", "serve the Go profiler at /debug/pprof/ on this address, e.g. :6060 (port only: 127.0.0.1); off by default")
	cmd.MarkFlagRequired("config")
	return cmd
}

// buildFile loads, validates and builds a pipeline file; relative paths in it resolve
// from the file's folder.
func buildFile(file string, env pipeline.Env) (*pipeline.Pipeline, error) {
	cfg, err := pipeline.Load(file)
	if err != nil {
		return nil, err
	}
	env.Dir = filepath.Dir(file)
	return pipeline.Build(cfg, env)
}
