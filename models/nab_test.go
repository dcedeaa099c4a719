package models_test

import (
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
	"gonum.org/v1/gonum/mat"
)

// nabResult is the detection outcome on one NAB stream.
type nabResult struct {
	stream           string
	windows, hit     int // labelled windows, windows with ≥ 1 detection
	fpReadings, fpEv int // detections after probation outside all windows; runs of them
}

func nabSeries(t testing.TB) ([]datasets.Stream, []models.Series) {
	t.Helper()
	streams, err := datasets.ReadNABDir("")
	if err != nil {
		t.Fatal(err)
	}
	var series []models.Series
	for _, s := range streams {
		vals := make([][]float64, len(s.Values))
		for i, v := range s.Values {
			vals[i] = []float64{v}
		}
		series = append(series, models.Series{Device: s.Name, Times: s.Times, Values: vals})
	}
	return streams, series
}

// evalNAB scores every window of every stream and counts hits and false positives.
func evalNAB(t testing.TB, d *models.Dense, streams []datasets.Stream, series []models.Series) []nabResult {
	t.Helper()
	labels, err := datasets.ReadNABLabels("")
	if err != nil {
		t.Fatal(err)
	}
	m := d.Meta()
	var out []nabResult
	for i, s := range series {
		sc, _ := m.ScalerFor(s.Device)
		x := models.Windows(models.ScaleAndFill(sc, s.Values), m.Window)
		r, c := x.Dims()
		y := mat.NewDense(r, c, nil)
		d.Predict(x, y)
		scores := make([]float64, r)
		models.ReconstructionErrors(x, y, scores)
		th := m.ThresholdFor(s.Device)
		wins := labels[streams[i].Key]
		res := nabResult{stream: s.Device, windows: len(wins)}
		hit := make([]bool, len(wins))
		p := models.ProbationaryRows(len(s.Values))
		prevFP := false
		for k, sc := range scores {
			ti := k + m.Window - 1
			if sc <= th {
				prevFP = false
				continue
			}
			in := inWindow(s.Times[ti], wins, hit)
			fp := !in && ti >= p
			if fp {
				res.fpReadings++
				if !prevFP {
					res.fpEv++
				}
			}
			prevFP = fp
		}
		for _, h := range hit {
			if h {
				res.hit++
			}
		}
		out = append(out, res)
	}
	return out
}

func inWindow(t time.Time, wins []datasets.Window, hit []bool) bool {
	for j, w := range wins {
		if !t.Before(w.Start) && !t.After(w.End) {
			hit[j] = true
			return true
		}
	}
	return false
}

// TestTrainAnomalyNAB trains the default autoencoder on the probationary periods of the 7
// shipped NAB realKnownCause streams, scores every window of every stream and checks the
// detection figures of the default threshold rule (measured: 11 of 19 labelled windows hit,
// 29 false-positive runs after probation), and that training is reproducible.
func TestTrainAnomalyNAB(t *testing.T) {
	streams, series := nabSeries(t)
	epochs := 0
	start := time.Now()
	d, err := models.TrainAnomaly("nab-ae", []string{"value"}, series, models.DefaultAnomalyOptions(), func(s models.EpochStats) { epochs = s.Epoch })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained %d epochs in %v", epochs, time.Since(start).Round(time.Millisecond))
	if epochs != models.DefaultAnomalyOptions().Epochs {
		t.Errorf("progress saw %d epochs", epochs)
	}
	m := d.Meta()
	if m.Kind != models.KindAutoencoder || m.Window != 16 || d.InputWidth() != 16 || len(m.Scalers) != 8 || len(m.Thresholds) != 8 {
		t.Fatalf("meta %+v", m)
	}
	want := 0
	for _, s := range streams {
		if p := models.ProbationaryRows(len(s.Values)); p != datasets.Probationary(len(s.Values)) {
			t.Errorf("%s: ProbationaryRows %d, NAB says %d", s.Name, p, datasets.Probationary(len(s.Values)))
		}
		want += datasets.Probationary(len(s.Values))
	}
	if m.TrainRows != want || want != 750*5+604+282 { // ec2 has 4032 rows, key_hold 1882
		t.Errorf("TrainRows %d, want %d", m.TrainRows, want)
	}
	var hit, windows, fpEvents int
	for _, r := range evalNAB(t, d, streams, series) {
		t.Logf("%-38s windows hit %d/%d  false positives after probation: %4d readings, %3d runs", r.stream, r.hit, r.windows, r.fpReadings, r.fpEv)
		hit += r.hit
		windows += r.windows
		fpEvents += r.fpEv
	}
	t.Logf("total: %d/%d windows hit, %d false-positive runs", hit, windows, fpEvents)
	if windows != 19 || hit < 10 || fpEvents > 60 {
		t.Errorf("hit %d/%d windows with %d false-positive runs, want ≥ 10/19 with ≤ 60", hit, windows, fpEvents)
	}

	again, err := models.TrainAnomaly("nab-ae", []string{"value"}, series, models.DefaultAnomalyOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Meta().Version != m.Version {
		t.Errorf("same seed, versions %s and %s: training is not reproducible", again.Meta().Version, m.Version)
	}
}
