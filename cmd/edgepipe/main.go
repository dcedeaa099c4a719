// Command edgepipe is the edge AI stream processor: `run` a pipeline file against real
// servers, `demo` the whole thing embedded on real data, and the tools around it (lint,
// train, replay, query, subscribe, version).
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	_ "github.com/edgepipe/edgepipe/connectors/mqtt"
	_ "github.com/edgepipe/edgepipe/connectors/nats"
	_ "github.com/edgepipe/edgepipe/connectors/store"
	_ "github.com/edgepipe/edgepipe/operators"
	"github.com/edgepipe/edgepipe/pipeline"
)

// exitError carries a process exit status through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

type logFlags struct{ format, level string }

func (l *logFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&l.format, "log-format", "text", "log format: text or json")
	cmd.PersistentFlags().StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
}

// logger returns the command's logger (see setup).
func (l *logFlags) logger() (*slog.Logger, error) {
	lg, err := l.setup()
	if err != nil {
		return nil, err
	}
	return lg.Logger, nil
}

func main() {
	var lf logFlags
	root := &cobra.Command{
		Use:           "edgepipe",
		Short:         "Edge AI stream processor: MQTT in, inference, SQLite, summaries out over NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	lf.register(root)
	root.AddCommand(runCmd(&lf), lintCmd(), demoCmd(&lf), trainCmd(), evalCmd(), replayCmd(), queryCmd(), subscribeCmd(), modelCmd(), configCmd(), versionCmd(), benchCmd(&lf), reportCmd())
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "edgepipe:", err)
		os.Exit(1)
	}
}

// printConfigErrors prints every config error as `file:line:col: message` and returns
// the exit error for them, or returns err unchanged when it is not a config error.
func printConfigErrors(err error) error {
	var ces pipeline.ConfigErrors
	if errors.As(err, &ces) {
		for _, e := range ces {
			fmt.Fprintln(os.Stderr, e.Error())
		}
		return exitError{code: 1}
	}
	return err
}
