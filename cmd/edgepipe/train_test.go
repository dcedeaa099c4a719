package main

import (
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
)

// runTrainArgs runs `edgepipe train args…` and returns its report.
func runTrainArgs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCommand(trainCmd(), args...)
}

// testAccuracy reads the test accuracy (in %) from a classifier's report.
func testAccuracy(t *testing.T, report string) float64 {
	t.Helper()
	m := regexp.MustCompile(`test accuracy ([0-9.]+)%`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no test accuracy in %q", report)
	}
	acc, _ := strconv.ParseFloat(m[1], 64)
	return acc
}

// configs/occupancy.model is what `make occupancy-model` trains (seeded), and it reaches
// ≥ 97% accuracy on the UCI test file (measured 97.86%).
func TestShippedOccupancyModel(t *testing.T) {
	out := filepath.Join(t.TempDir(), "occ.model")
	report, err := runTrainArgs(t, "--dataset", "occupancy", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(report)
	if acc := testAccuracy(t, report); acc < 97 {
		t.Errorf("test accuracy %.2f%%, want ≥ 97%%", acc)
	}
	m, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	meta := m.Meta()
	if meta.Kind != models.KindClassifier || strings.Join(meta.Classes, ",") != "empty,occupied" || meta.Window != 1 ||
		strings.Join(meta.Features, ",") != "temperature,humidity,light,co2,humidity_ratio" || meta.TrainRows != 8143 {
		t.Errorf("meta %+v", meta)
	}
	// The scaler is the z-score of datatraining.txt: light's mean is about 119 lux.
	if sc, ok := meta.Scalers[""]; !ok || math.Abs(sc.Mean[2]-119.5) > 1 {
		t.Errorf("default scaler %+v", meta.Scalers)
	}
	shipped, err := models.Load("../../configs/occupancy.model")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := meta.Version, shipped.Meta().Version; got != want {
		t.Fatalf("trained version %s, shipped %s: run make occupancy-model", got, want)
	}
}

// TestTrainMNISTSmoke trains the 784→500→10 MLP on 2,000 training images for 2 epochs: the
// full run (make mnist) reaches ≥ 98%; this bounds the pipeline of loading, scaling,
// training and testing from below.
func TestTrainMNISTSmoke(t *testing.T) {
	dir := t.TempDir()
	out, curve := filepath.Join(dir, "mnist.model"), filepath.Join(dir, "loss.png")
	report, err := runTrainArgs(t, "--dataset", "mnist", "--max-rows", "2000", "--epochs", "2", "--out", out, "--loss-png", curve)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(report)
	if acc := testAccuracy(t, report); acc < 85 {
		t.Errorf("test accuracy %.2f%% after 2 epochs on 2,000 images, want ≥ 85%%", acc)
	}
	m, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	meta := m.Meta()
	if m.InputWidth() != 784 || m.OutputWidth() != 10 || len(meta.Features) != 784 || meta.Features[783] != "px783" ||
		meta.Scalers[""].Std[0] != 255 || meta.Classes[9] != "9" || meta.TrainRows != 2000 {
		t.Errorf("model %d→%d, meta features %d, scaler std %v, classes %v, rows %d",
			m.InputWidth(), m.OutputWidth(), len(meta.Features), meta.Scalers[""].Std[0], meta.Classes, meta.TrainRows)
	}
	f, err := os.Open(curve)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("loss curve: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("loss curve is %v", b)
	}
}

// TestTrainFromStore trains the autoencoder on readings stored by the sqlite sink: two
// devices, two fields, one of them chosen with --fields.
func TestTrainFromStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "edge.db")
	env := &pipeline.Env{Site: "t", Fields: []string{"temp", "hum"}, Metrics: pipeline.NewMetrics()}
	sink, err := store.New(store.Options{Path: db, Batch: 256, Synchronous: store.SyncNormal, BusyTimeout: store.DefaultBusyTimeout}, env)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	in := make(chan *pipeline.Record, 800)
	for i := range 400 {
		for d, dev := range []string{"b", "a"} {
			ts := t0.Add(time.Duration(i) * time.Minute)
			r := pipeline.NewRecord("sensors/"+dev, []byte(`{}`), ts, pipeline.NewAck(nil))
			x := float64(i)/10 + float64(d)
			r.Device, r.Time, r.Values = dev, ts, []float64{20 + math.Sin(x), 50 + 5*math.Cos(x)}
			in <- r
		}
	}
	close(in)
	if err := sink.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	sink.Close()

	out := filepath.Join(dir, "ae.model")
	report, err := runTrainArgs(t, "--db", db, "--fields", "hum", "--window", "4", "--layers", "3:tanh", "--epochs", "5",
		"--until", "2024-05-01T05:00:00Z", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	meta := m.Meta()
	// 300 readings per device before 05:00; probation = 15% = 45 rows each.
	if strings.Join(meta.Features, ",") != "hum" || meta.Window != 4 || m.InputWidth() != 4 || meta.TrainRows != 90 ||
		len(meta.Scalers) != 3 || !meta.TrainedFrom.Equal(t0) || !meta.TrainedTo.Equal(t0.Add(44*time.Minute)) {
		t.Errorf("report %q, meta %+v", report, meta)
	}
	if !strings.Contains(report, "2 streams, 90 training rows, window 4, 5 epochs") {
		t.Errorf("report %q", report)
	}
	if _, err := runTrainArgs(t, "--db", db, "--fields", "co2", "--out", out); err == nil || !strings.Contains(err.Error(), `"co2" is not a stored field (temp, hum)`) {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := runTrainArgs(t, "--db", db, "--device", "zz", "--out", out); err == nil || !strings.Contains(err.Error(), "no stored readings match") {
		t.Errorf("no readings: %v", err)
	}
}

func TestTrainPlanPrecedence(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "spec.yaml")
	os.WriteFile(spec, []byte(`layers:
  - {width: 32, activation: relu}
  - {width: 16, activation: tanh}
loss: mse
optimizer: {learning_rate: 0.01, beta2: 0.99}
epochs: 7
validation_split: 0.1
patience: 2
seed: 9
`), 0o644)
	cmd := trainCmd()
	if err := cmd.Flags().Parse([]string{"--spec", spec, "--epochs", "3", "--beta1", "0.8", "--output-activation", "sigmoid"}); err != nil {
		t.Fatal(err)
	}
	p, err := planFor(datasetOccupancy)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.applySpecFile(spec); err != nil {
		t.Fatal(err)
	}
	tf := trainFlags{dataset: datasetOccupancy}
	if err := p.applyFlags(cmd.Flags(), tf, false); err != nil {
		t.Fatal(err)
	}
	want := models.FitOptions{LearningRate: 0.01, Beta1: 0.8, Beta2: 0.99, Epsilon: 1e-8, BatchSize: 32, Epochs: 3, ValidationSplit: 0.1, Patience: 2, Seed: 9}
	if p.Fit != want || p.Loss != models.LossMSE || p.Output != models.ActSigmoid ||
		describeNet(5, p.layers(2)) != "5→32 relu→16 tanh→2 sigmoid" {
		t.Errorf("plan %+v (%s), want fit %+v, mse, sigmoid output", p, describeNet(5, p.layers(2)), want)
	}
}

func TestTrainRejects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("epochs: 3\nlayer: []\n"), 0o644)
	out := filepath.Join(dir, "m.model")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dataset", "occupancy", "--window", "8"}, "--window does not apply"},
		{[]string{"--dataset", "iris"}, `--dataset "iris"`},
		{[]string{"--dataset", "mnist", "--db", "x.db"}, "--db trains the anomaly autoencoder"},
		{[]string{"--layers", "8"}, `"8" is not WIDTH:ACTIVATION`},
		{[]string{"--layers", "8:tanh,4:relu"}, "share one activation"},
		{[]string{"--loss", "cross-entropy"}, "an autoencoder has a linear output and the mse loss"},
		{[]string{"--spec", bad}, "bad.yaml: yaml: unmarshal errors:\n  line 2: field layer not found"},
		{[]string{"--dataset", "occupancy", "--loss", "cross-entropy", "--output-activation", "sigmoid"}, "needs a softmax output layer"},
	} {
		_, err := runTrainArgs(t, append(c.args, "--out", out)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
