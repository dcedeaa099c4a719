package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Series is one device's recording: n readings of F fields in physical units (NaN =
// missing), Times[i] (UTC) being the event time of Values[i].
type Series struct {
	Device string
	Times  []time.Time
	Values [][]float64
}

// AnomalyOptions configure TrainAnomaly.
type AnomalyOptions struct {
	// Window is the number of readings per input row (W); the input width is W·F.
	Window int
	// Hidden are the hidden layer widths of the autoencoder, e.g. [16 4 16].
	Hidden []int
	// HiddenActivation is the activation of the hidden layers; the output layer is linear.
	HiddenActivation Activation
	// FitOptions are the optimiser, epochs, batch size, validation split, early stopping
	// and seed (see Train); the loss is the mean squared reconstruction error.
	FitOptions
	// ThresholdQuantile (0..1] and ThresholdFactor set each device's threshold: the
	// ThresholdQuantile quantile of the reconstruction errors of its probationary windows,
	// times ThresholdFactor (> 0). Quantile 1 is the maximum.
	ThresholdQuantile float64
	ThresholdFactor   float64
}

// DefaultAnomalyOptions returns the defaults: W = 16 readings, a 16→8→4→8→16 tanh
// autoencoder with a linear output, 40 epochs of Adam (β1 0.9, β2 0.999, ε 1e-8) with
// batches of 32 at lr 1e-3, no validation split, seed 1, and threshold = 3 × the maximum
// probationary error of each device (README.md says how this was chosen on NAB).
func DefaultAnomalyOptions() AnomalyOptions {
	fit := DefaultFitOptions()
	fit.Epochs, fit.BatchSize, fit.LearningRate, fit.Seed = 40, 32, 1e-3, 1
	return AnomalyOptions{
		Window: 16, Hidden: []int{8, 4, 8}, HiddenActivation: ActTanh, FitOptions: fit,
		ThresholdQuantile: 1, ThresholdFactor: 3,
	}
}

func (o AnomalyOptions) check() error {
	if err := o.FitOptions.check(); err != nil {
		return err
	}
	switch {
	case o.Window < 1:
		return fmt.Errorf("window %d, want ≥ 1", o.Window)
	case !(o.ThresholdQuantile > 0 && o.ThresholdQuantile <= 1):
		return fmt.Errorf("threshold quantile %v, want in (0, 1]", o.ThresholdQuantile)
	case !(o.ThresholdFactor > 0):
		return fmt.Errorf("threshold factor %v, want > 0", o.ThresholdFactor)
	case !o.HiddenActivation.valid() || o.HiddenActivation == ActSoftmax:
		return fmt.Errorf("hidden activation %q, want relu, tanh, sigmoid or linear", o.HiddenActivation)
	}
	return nil
}

// ProbationaryRows is the length of the probationary period of a series of n rows: the
// first 15% of the rows, at most 750, as in NAB (Lavin & Ahmad, "Evaluating Real-time
// Anomaly Detection Algorithms — the Numenta Anomaly Benchmark", 2015).
func ProbationaryRows(n int) int {
	return min(int(0.15*float64(n)), 750)
}

// TrainAnomaly trains one shared autoencoder on the probationary period
// (ProbationaryRows) of every series. Per device it fits a Scaler on that period, builds
// the windows exactly as the pipeline does (ScaleAndFill, then Windows), and after training
// sets the device's threshold from the reconstruction errors of those same windows
// (AnomalyOptions.ThresholdQuantile × ThresholdFactor). The "" defaults are a scaler fitted
// on all probationary rows pooled and the median of the device thresholds. Training is
// Train with LossMSE on the windows (input = target) and opts.FitOptions; progress, if
// not nil, is called after each epoch.
//
// It returns an error for no fields, no series, a duplicate or empty device id, a row
// whose length is not len(fields), Times and Values of unequal length, invalid options,
// no series long enough for one window in its probationary period, an infinite reading,
// a validation split leaving no window on either side, or a diverged (non-finite) loss.
func TrainAnomaly(name string, fields []string, series []Series, opts AnomalyOptions, progress func(EpochStats)) (*Dense, error) {
	if err := checkTrainInput(fields, series, opts); err != nil {
		return nil, fmt.Errorf("models: TrainAnomaly: %w", err)
	}
	f := len(fields)
	meta := Meta{
		Name: name, Kind: KindAutoencoder, Features: slices.Clone(fields), Window: opts.Window,
		Scalers: map[string]Scaler{}, Thresholds: map[string]float64{},
	}
	var pooled [][]float64
	perDevice := map[string]*mat.Dense{}
	var all []*mat.Dense
	for _, s := range series {
		p := ProbationaryRows(len(s.Values))
		prob := s.Values[:p]
		pooled = append(pooled, prob...)
		for _, t := range s.Times[:p] {
			if meta.TrainedFrom.IsZero() || t.Before(meta.TrainedFrom) {
				meta.TrainedFrom = t.UTC()
			}
			if t.After(meta.TrainedTo) {
				meta.TrainedTo = t.UTC()
			}
		}
		meta.TrainRows += p
		sc := FitScaler(prob, f)
		meta.Scalers[s.Device] = sc
		if x := Windows(ScaleAndFill(sc, prob), opts.Window); x != nil {
			perDevice[s.Device] = x
			all = append(all, x)
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("models: TrainAnomaly: no series has %d readings in its probationary period", opts.Window)
	}
	meta.Scalers[""] = FitScaler(pooled, f)

	layers := make([]LayerSpec, 0, len(opts.Hidden)+1)
	for _, w := range opts.Hidden {
		layers = append(layers, LayerSpec{Width: w, Activation: opts.HiddenActivation})
	}
	layers = append(layers, LayerSpec{Width: opts.Window * f, Activation: ActLinear})
	x := stack(all)
	d, _, err := Train(x, x, layers, LossMSE, opts.FitOptions, progress)
	if err != nil {
		return nil, fmt.Errorf("models: TrainAnomaly: %w", err)
	}

	var ths []float64
	for dev, x := range perDevice {
		r, c := x.Dims()
		y := mat.NewDense(r, c, nil)
		d.Predict64(x, y)
		errs := make([]float64, r)
		ReconstructionErrors(x, y, errs)
		th := quantile(errs, opts.ThresholdQuantile) * opts.ThresholdFactor
		meta.Thresholds[dev] = th
		ths = append(ths, th)
	}
	meta.Thresholds[""] = quantile(ths, 0.5)
	d.SetMeta(meta)
	return d, nil
}

func checkTrainInput(fields []string, series []Series, opts AnomalyOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	if len(fields) == 0 {
		return errors.New("no feature fields")
	}
	if len(series) == 0 {
		return errors.New("no series")
	}
	seen := map[string]bool{}
	for _, s := range series {
		switch {
		case s.Device == "":
			return errors.New("a series has an empty device id")
		case seen[s.Device]:
			return fmt.Errorf("device %q appears twice", s.Device)
		case len(s.Times) != len(s.Values):
			return fmt.Errorf("device %q: %d times and %d value rows", s.Device, len(s.Times), len(s.Values))
		}
		seen[s.Device] = true
		for i, v := range s.Values {
			if len(v) != len(fields) {
				return fmt.Errorf("device %q row %d: %d values for %d fields", s.Device, i, len(v), len(fields))
			}
		}
	}
	return nil
}

// stack concatenates matrices with equal column counts vertically.
func stack(ms []*mat.Dense) *mat.Dense {
	_, c := ms[0].Dims()
	var data []float64
	for _, m := range ms {
		r, _ := m.Dims()
		for i := 0; i < r; i++ {
			data = append(data, m.RawRowView(i)...)
		}
	}
	return mat.NewDense(len(data)/c, c, data)
}

// quantile returns the q quantile (0..1] of xs by linear interpolation between order
// statistics (q = 1 is the maximum). xs is not modified.
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	frac := pos - float64(lo)
	return s[lo]*(1-frac) + s[lo+1]*frac
}
