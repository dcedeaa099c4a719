package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/pipeline"
)

func lintCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "lint -c FILE",
		Short: "Check a pipeline file without running it: every error at once as file:line:col: message, exit status 1",
		Long: `lint reports every problem of a pipeline file at once, sorted by position: YAML syntax,
unknown keys, wrong types, values out of bounds, unset ${VAR}s, missing files (models),
and feature widths that do not fit the model. It creates no file and connects to nothing.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if errs := pipeline.Lint(file, data); len(errs) > 0 {
				return printConfigErrors(errs)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", file)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "pipeline file (YAML)")
	cmd.MarkFlagRequired("config")
	return cmd
}
