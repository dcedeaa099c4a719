package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/connectors/store"
)

func queryCmd() *cobra.Command {
	var db, device, since, until, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "query --db PATH [--device D] [--since T] [--until T] [--format csv|json]",
		Short: "Print stored results (one row per reading: device, time, values, score, anomaly, label, model)",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := store.QueryOptions{Device: device, Limit: limit}
			var err error
			if opts.Since, err = parseTimeFlag("--since", since); err != nil {
				return err
			}
			if opts.Until, err = parseTimeFlag("--until", until); err != nil {
				return err
			}
			d, err := store.Open(db)
			if err != nil {
				return err
			}
			defer d.Close()
			ctx := context.Background()
			fields, err := d.Fields(ctx)
			if err != nil {
				return err
			}
			_, err = store.Query(ctx, d, cmd.OutOrStdout(), format, fields, opts)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&db, "db", "", "SQLite file written by a pipeline")
	f.StringVar(&device, "device", "", "only this device")
	f.StringVar(&since, "since", "", "only readings at or after this time (RFC 3339, or a duration back from now such as 1h)")
	f.StringVar(&until, "until", "", "only readings before this time (RFC 3339, or a duration back from now)")
	f.StringVar(&format, "format", "csv", "output format: csv or json (JSON lines)")
	f.IntVar(&limit, "limit", 0, "at most this many rows (0 = all)")
	cmd.MarkFlagRequired("db")
	return cmd
}

// parseTimeFlag reads an RFC 3339 time or a duration before now; "" is the zero time.
func parseTimeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().UTC().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s: %q is neither an RFC 3339 time nor a duration", name, s)
}
