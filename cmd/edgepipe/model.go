package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	natsconn "github.com/edgepipe/edgepipe/connectors/nats"
	"github.com/edgepipe/edgepipe/models"
)

// modelCmd is `edgepipe model`: the tools around model files.
func modelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Model file tools: push a model to running gateways, import an ONNX network",
	}
	cmd.AddCommand(modelPushCmd(), modelImportCmd())
	return cmd
}

// modelPushCmd is `edgepipe model push`: a model file to the gateways of a site over NATS.
func modelPushCmd() *cobra.Command {
	var url, site, bucket string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "push --nats URL --site SITE FILE",
		Short: "Publish a model file to the gateways of a site over NATS (JetStream object store)",
		Long: `push checks FILE (a valid model file) and stores it in the JetStream object store
bucket (created when missing) as the object named after the site, replacing the site's
previous model. Every gateway of that site whose nats output sets model_file gets it at
once, or when it next connects: it checks the model (valid, same kind, features and window
as its own), writes it over its model file atomically, and the infer operator swaps it in
between two batches.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := models.Load(args[0]) // all of Decode's checks; the error names the file
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			nc, err := natsconn.Connect(url)
			if err != nil {
				return fmt.Errorf("connect to NATS: %w", err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			if err := natsconn.PushModel(ctx, js, bucket, site, m); err != nil {
				return err
			}
			meta := m.Meta()
			fmt.Fprintf(cmd.OutOrStdout(), "pushed model %s version %s to bucket %s, object %s\n", meta.Name, meta.Version, bucket, site)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "nats", "nats://127.0.0.1:4222", "NATS server URL (nats:// or tls://; user:password@ for authentication)")
	f.StringVar(&site, "site", "", "site whose gateways get the model (their pipeline's site key)")
	f.StringVar(&bucket, "bucket", natsconn.DefaultModelBucket, "JetStream object store bucket of models (the nats output's model_bucket)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	_ = cmd.MarkFlagRequired("site")
	return cmd
}
