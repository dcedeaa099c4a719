package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/pipeline"
)

func configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Configuration tools"}
	cmd.AddCommand(&cobra.Command{
		Use:   "schema",
		Short: "Print the configuration reference (Markdown) generated from the code",
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprint(cmd.OutOrStdout(), pipeline.Reference())
		},
	})
	return cmd
}
