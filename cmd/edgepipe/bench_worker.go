package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/pipeline"
)

// benchWorkerCmd is `edgepipe bench worker`, hidden: the pipeline side of `edgepipe
// bench`, in a process of its own so that its CPU time and peak RSS are edgepipe's
// alone. It runs the pipeline file like `edgepipe run`, plus the Committed and Summarized
// hooks and snapshots of bench_wire.go, until its stdin ends or SIGTERM.
func benchWorkerCmd(lf *logFlags) *cobra.Command {
	var file string
	var prof benchProfiles
	cmd := &cobra.Command{
		Use:    "worker -c FILE",
		Short:  "The pipeline process of edgepipe bench (messages on stdout; drains and exits when stdin ends)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := lf.logger()
			if err != nil {
				return err
			}
			wire := newBenchWire(os.Stdout)
			p, err := buildFile(file, pipeline.Env{Log: log, Hooks: pipeline.Hooks{Committed: wire.committed, Summarized: wire.summarized}})
			if err != nil {
				return printConfigErrors(err)
			}
			stopProfiles, err := prof.start()
			if err != nil {
				p.Close()
				return err
			}
			// Ctrl-C in a terminal reaches the whole process group: the bench stops
			// publishing, waits for the last commits, and then closes this stdin.
			signal.Ignore(os.Interrupt)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
			defer stop()
			go func() {
				sc := bufio.NewScanner(os.Stdin)
				for sc.Scan() {
					if sc.Text() == "m" {
						if err := wire.snapshot(p.Env().Metrics.BatchSize); err != nil {
							log.Error("bench snapshot", "err", err)
						}
					}
				}
				stop()
			}()
			go func() {
				select {
				case <-p.Ready():
					wire.ready()
				case <-ctx.Done():
				}
			}()
			err = p.Run(ctx)
			return errors.Join(err, stopProfiles())
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "pipeline file (YAML)")
	prof.addFlags(cmd.Flags())
	cmd.MarkFlagRequired("config")
	return cmd
}
