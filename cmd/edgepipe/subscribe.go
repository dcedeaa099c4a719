package main

import (
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	natsconn "github.com/edgepipe/edgepipe/connectors/nats"
)

func subscribeCmd() *cobra.Command {
	var url, subject, stream string
	var all bool
	cmd := &cobra.Command{
		Use:   "subscribe --nats URL [--subject SUBJ]",
		Short: "Print summaries as JSON lines (the cloud side)",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			nc, err := natsconn.Connect(url)
			if err != nil {
				return err
			}
			defer nc.Close()
			enc := json.NewEncoder(cmd.OutOrStdout())
			return natsconn.Subscribe(ctx, nc, natsconn.SubscribeOptions{Stream: stream, Subject: subject, DeliverAll: all}, func(m natsconn.Received) error {
				return enc.Encode(m.Summary)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "nats", "nats://127.0.0.1:4222", "NATS server URL (nats:// or tls://)")
	f.StringVar(&subject, "subject", "edgepipe.>", "subject filter, e.g. edgepipe.<site>.summary.>")
	f.StringVar(&stream, "stream", "EDGEPIPE", "JetStream stream to read (\"\" = a core NATS subscription: only new messages)")
	f.BoolVar(&all, "all", false, "with a stream: start from the first stored summary instead of new ones")
	return cmd
}
