package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/pipeline"
)

func lintCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "lint -c FILE",
		Short: "Check a pipeline file: every error at once as file:line:col: message, exit status 1",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := buildFile(file, pipeline.Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				return printConfigErrors(err)
			}
			p.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", file)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "pipeline file (YAML)")
	cmd.MarkFlagRequired("config")
	return cmd
}
