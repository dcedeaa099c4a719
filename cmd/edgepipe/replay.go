package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/datasets"
)

func replayCmd() *cobra.Command {
	var url, data, speed, topic, clientID string
	var qos int
	cmd := &cobra.Command{
		Use:   "replay --mqtt URL [--data DIR] [--speed N|max]",
		Short: "Play NAB-format CSV recordings as sensors publishing JSON readings over MQTT",
		Long: `replay plays NAB-format CSV recordings as sensors publishing JSON readings over MQTT.
The broker's user name and password, when it needs them, come from the environment:
` + envMQTTUsername + ` and ` + envMQTTPassword + `.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rate, err := parseRate(speed)
			if err != nil {
				return err
			}
			streams, err := datasets.ReadNABDir(data)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			total := 0
			for _, s := range streams {
				total += len(s.Values)
			}
			bar := newProgress(total, "publishing")
			stats, err := mqttconn.Replay(ctx, mqttconn.ReplayOptions{
				URL: url, Username: os.Getenv(envMQTTUsername), Password: os.Getenv(envMQTTPassword), ClientID: clientID, Topic: topic, QoS: byte(qos), Rate: rate, Streams: streams,
				Progress: func(done, _ int) { bar.update(done, "publishing") },
			})
			bar.finish()
			fmt.Fprintf(cmd.OutOrStdout(), "published %d readings (%d payload bytes) from %d streams\n", stats.Published, stats.Bytes, len(streams))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "mqtt", "tcp://127.0.0.1:1883", "MQTT broker URL (tcp:// or ssl://)")
	f.StringVar(&data, "data", "", "folder of NAB-format CSV files (default: the shipped recordings)")
	f.StringVar(&speed, "speed", demoDefaultRate, "readings per second across all sensors, or max")
	f.StringVar(&topic, "topic", "sensors/{device}/reading", "topic; {device} is replaced by the stream name")
	f.StringVar(&clientID, "client-id", "edgepipe-replay", "MQTT client id")
	f.IntVar(&qos, "qos", 1, "MQTT QoS (0 or 1)")
	return cmd
}
