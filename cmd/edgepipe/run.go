package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/pipeline"
)

func runCmd(lf *logFlags) *cobra.Command {
	var file string
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
			log.Info("pipeline started", "config", file, "name", p.Env().Name, "site", p.Env().Site)
			if err := p.Run(ctx); err != nil {
				return err
			}
			log.Info("pipeline stopped")
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "pipeline file (YAML)")
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
