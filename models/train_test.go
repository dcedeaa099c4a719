package models

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// sine returns a device's series of n readings of two fields, 5 min apart.
func sine(device string, n int, phase float64) Series {
	s := Series{Device: device}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		s.Times = append(s.Times, t0.Add(time.Duration(i)*5*time.Minute))
		x := float64(i)/5 + phase
		s.Values = append(s.Values, []float64{20 + 3*math.Sin(x), 50 + 10*math.Cos(x)})
	}
	return s
}

func TestTrainAnomalySmall(t *testing.T) {
	series := []Series{sine("a", 400, 0), sine("b", 200, 1)}
	series[0].Values[3][1] = math.NaN()
	opts := DefaultAnomalyOptions()
	opts.Window, opts.Hidden, opts.Epochs, opts.LearningRate = 4, []int{4}, 30, 0.01
	var losses []float64
	d, err := TrainAnomaly("small", []string{"temp", "hum"}, series, opts, func(s EpochStats) { losses = append(losses, s.TrainLoss) })
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != 30 || !(losses[29] < losses[0]/2) {
		t.Errorf("losses %v: want 30 epochs and a falling loss", losses)
	}
	m := d.Meta()
	// Probation: 15% of 400 = 60 rows, of 200 = 30 rows.
	if m.TrainRows != 90 || !m.TrainedFrom.Equal(series[0].Times[0]) || !m.TrainedTo.Equal(series[0].Times[59]) {
		t.Errorf("TrainRows %d, span %v..%v", m.TrainRows, m.TrainedFrom, m.TrainedTo)
	}
	if want := FitScaler(series[1].Values[:30], 2); !reflect.DeepEqual(m.Scalers["b"], want) {
		t.Errorf("scaler b %v, want %v", m.Scalers["b"], want)
	}
	if d.InputWidth() != 8 || m.Kind != KindAutoencoder || !reflect.DeepEqual(m.Features, []string{"temp", "hum"}) {
		t.Errorf("input width %d, meta %+v", d.InputWidth(), m)
	}
	// Threshold of b = 3 × the largest probationary reconstruction error.
	x := Windows(ScaleAndFill(m.Scalers["b"], series[1].Values[:30]), 4)
	y := mat.NewDense(27, 8, nil)
	d.Predict64(x, y) // training computes in float64
	errs := make([]float64, 27)
	ReconstructionErrors(x, y, errs)
	if want := 3 * quantile(errs, 1); m.Thresholds["b"] != want {
		t.Errorf("threshold b %v, want %v", m.Thresholds["b"], want)
	}
	lo, hi := min(m.Thresholds["a"], m.Thresholds["b"]), max(m.Thresholds["a"], m.Thresholds["b"])
	if m.Thresholds[""] != (lo+hi)/2 {
		t.Errorf("default threshold %v, want the median %v", m.Thresholds[""], (lo+hi)/2)
	}
}

func TestTrainAnomalyRejects(t *testing.T) {
	good := []Series{sine("a", 400, 0)}
	bad := opts(func(o *AnomalyOptions) { o.LearningRate = 0 })
	short := []Series{sine("a", 50, 0)} // 7 probationary rows < window 16
	dup := []Series{sine("a", 400, 0), sine("a", 400, 0)}
	ragged := []Series{sine("a", 400, 0)}
	ragged[0].Values[9] = []float64{1}
	for _, c := range []struct {
		name, want string
		fields     []string
		series     []Series
		opts       AnomalyOptions
	}{
		{"no fields", "no feature fields", nil, good, DefaultAnomalyOptions()},
		{"no series", "no series", []string{"t", "h"}, nil, DefaultAnomalyOptions()},
		{"bad lr", "learning rate", []string{"t", "h"}, good, bad},
		{"short", "no series has 16 readings", []string{"t", "h"}, short, DefaultAnomalyOptions()},
		{"duplicate", "appears twice", []string{"t", "h"}, dup, DefaultAnomalyOptions()},
		{"ragged", "row 9: 1 values for 2 fields", []string{"t", "h"}, ragged, DefaultAnomalyOptions()},
	} {
		_, err := TrainAnomaly("x", c.fields, c.series, c.opts, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func opts(f func(*AnomalyOptions)) AnomalyOptions {
	o := DefaultAnomalyOptions()
	f(&o)
	return o
}

func TestQuantile(t *testing.T) {
	xs := []float64{4, 1, 3, 2}
	if quantile(xs, 1) != 4 || quantile(xs, 0.5) != 2.5 || quantile(xs, 0.25) != 1.75 {
		t.Errorf("quantiles %v %v %v", quantile(xs, 1), quantile(xs, 0.5), quantile(xs, 0.25))
	}
	if xs[0] != 4 {
		t.Error("quantile sorted its input")
	}
}
