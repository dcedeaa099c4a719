package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/pipeline"
)

func runCmd(lf *logFlags) *cobra.Command {
	var file, metrics string
	cmd := &cobra.Command{
		Use:   "run -c FILE",
		Short: "Run a pipeline file until SIGINT or SIGTERM, then drain and exit 0",
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := lf.logger()
			if err != nil {
				return err
			}
			p, err := buildFile(file, pipeline.Env{Log: log})
			if err != nil {
				return printConfigErrors(err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if metrics != "" {
				srv, err := serveMetrics(metrics, p.Env().Metrics)
				if err != nil {
					p.Close()
					return err
				}
				defer srv.Close()
				log.Info("metrics", "url", "http://"+srv.Addr+"/metrics")
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
	cmd.Flags().StringVar(&metrics, "metrics", "", "serve Prometheus metrics on this address at /metrics, e.g. 127.0.0.1:9464 (off by default)")
	cmd.MarkFlagRequired("config")
	return cmd
}

// serveMetrics serves m's registry at http://addr/metrics until the server is closed.
func serveMetrics(addr string, m *pipeline.Metrics) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
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
