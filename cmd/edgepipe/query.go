package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/connectors/store"
)

func queryCmd() *cobra.Command {
	var db, device, since, until, format string
	var limit int
	var dead, outbox bool
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
			if dead {
				return printDeadLetters(ctx, d, cmd.OutOrStdout(), limit)
			}
			if outbox {
				return printOutbox(ctx, d, cmd.OutOrStdout())
			}
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
	f.StringVar(&since, "since", "", "only readings at or after this time (RFC 3339, a UTC date 2006-01-02, or a duration back from now such as 1h)")
	f.StringVar(&until, "until", "", "only readings before this time (RFC 3339, or a duration back from now)")
	f.StringVar(&format, "format", "csv", "output format: csv or json (JSON lines)")
	f.IntVar(&limit, "limit", 0, "at most this many rows (0 = all)")
	f.BoolVar(&dead, "dead-letters", false, "print the dead letters instead (newest first, JSON lines: time, topic, reason, device, payload)")
	f.BoolVar(&outbox, "outbox", false, "print the summaries waiting for NATS instead (oldest first, the order they are sent in; JSON lines: msg_id, device, start_ms, created)")
	cmd.MarkFlagsMutuallyExclusive("dead-letters", "outbox")
	cmd.MarkFlagRequired("db")
	return cmd
}

// parseTimeFlag reads an RFC 3339 time or a duration before now; "" is the zero time.
func parseTimeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil // a zoneless time is UTC
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().UTC().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s: %q is neither an RFC 3339 time, a date (2006-01-02) nor a duration", name, s)
}

// deadLetterRow is one line of `query --dead-letters`.
type deadLetterRow struct {
	At      time.Time  `json:"at"`
	Topic   string     `json:"topic"`
	Reason  string     `json:"reason"`
	Device  string     `json:"device,omitempty"`
	Time    *time.Time `json:"time,omitempty"`
	Payload string     `json:"payload"`
}

func printDeadLetters(ctx context.Context, d *store.DB, w io.Writer, limit int) error {
	enc := json.NewEncoder(w)
	return d.DeadLetters(ctx, limit, func(dl store.DeadLetter) error {
		row := deadLetterRow{At: dl.At, Topic: dl.Topic, Reason: dl.Reason, Device: dl.Device, Payload: string(dl.Payload)}
		if !dl.Time.IsZero() {
			row.Time = &dl.Time
		}
		return enc.Encode(row)
	})
}

// outboxRow is one line of `query --outbox`.
type outboxRow struct {
	MsgID   string    `json:"msg_id"`
	Device  string    `json:"device"`
	StartMs int64     `json:"start_ms"`
	Created time.Time `json:"created"`
}

// printOutbox writes the outbox entries, oldest first, as JSON lines.
func printOutbox(ctx context.Context, d *store.DB, w io.Writer) error {
	enc := json.NewEncoder(w)
	return d.Outbox(ctx, func(e store.OutboxEntry) error {
		return enc.Encode(outboxRow{MsgID: e.MsgID, Device: e.Device, StartMs: e.StartMs, Created: e.Created})
	})
}
