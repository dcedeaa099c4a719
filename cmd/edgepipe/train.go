package main

import (
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

func trainCmd() *cobra.Command {
	var data, out, name string
	opts := models.DefaultAnomalyOptions()
	cmd := &cobra.Command{
		Use:   "train --out FILE [--data DIR]",
		Short: "Train the anomaly autoencoder on each stream's probationary period and write a model file",
		Long: `train fits one shared dense autoencoder with mini-batch Adam on the probationary period of
every stream (the first 15% of its rows, at most 750, as NAB does), with a per-stream scaler
and threshold, and writes the model file (msgpack; see models/README.md). Each CSV in --data
(NAB format: timestamp,value) is one stream, named after its file; the default is the shipped
NAB realKnownCause recordings.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			streams, err := datasets.ReadNABDir(data)
			if err != nil {
				return err
			}
			start := time.Now()
			m, err := trainStreams(streams, opts, name)
			if err != nil {
				return err
			}
			if err := m.Save(out); err != nil {
				return err
			}
			meta := m.Meta()
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: model %s version %s, %d streams, %d training rows, window %d, in %.1fs\n",
				out, meta.Name, meta.Version, len(streams), meta.TrainRows, meta.Window, time.Since(start).Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "folder of NAB-format CSV files (default: the shipped recordings)")
	f.StringVarP(&out, "out", "o", "", "model file to write")
	f.StringVar(&name, "name", "anomaly", "model name")
	f.IntVar(&opts.Window, "window", opts.Window, "readings per input row (the pipeline's window size must match)")
	f.IntVar(&opts.Epochs, "epochs", opts.Epochs, "training epochs")
	f.IntVar(&opts.BatchSize, "batch", opts.BatchSize, "mini-batch size (rows)")
	f.Float64Var(&opts.LearningRate, "lr", opts.LearningRate, "Adam learning rate")
	f.Int64Var(&opts.Seed, "seed", opts.Seed, "random seed (same seed and data, same weights)")
	cmd.MarkFlagRequired("out")
	return cmd
}

// trainStreams trains the anomaly autoencoder on NAB streams (field "value"), showing a
// progress bar over epochs.
func trainStreams(streams []datasets.Stream, opts models.AnomalyOptions, name string) (*models.Dense, error) {
	series := make([]models.Series, len(streams))
	for i, s := range streams {
		vals := make([][]float64, len(s.Values))
		for j, v := range s.Values {
			vals[j] = []float64{v}
		}
		series[i] = models.Series{Device: s.Name, Times: s.Times, Values: vals}
	}
	bar := newProgress(opts.Epochs, "training")
	loss := math.NaN()
	m, err := models.TrainAnomaly(name, []string{"value"}, series, opts, func(epoch int, l float64) {
		loss = l
		bar.update(epoch+1, fmt.Sprintf("training, loss %.4f", loss))
	})
	bar.finish()
	return m, err
}
