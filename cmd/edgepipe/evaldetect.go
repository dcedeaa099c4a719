package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/models/nabscore"
)

// anomalyScore maps a reconstruction error e ≥ 0 (squared z-score units) to NAB's
// anomaly_score in [0, 1] as e/(e+θ), θ being the stream's threshold: 0 for a perfect
// reconstruction, 0.5 exactly at the threshold (so anomaly_score ≥ 0.5 is the model's own
// detection rule, e ≥ θ), towards 1 as e grows. It is monotone in e, so within a stream it
// ranks rows as e does, and dividing by θ puts the streams on the one scale that NAB's
// single threshold per corpus assumes. An infinite e gives 1; θ = +Inf (no threshold) or
// e = θ = 0 give 0.
func anomalyScore(e, th float64) float64 {
	switch {
	case math.IsInf(e, 1):
		return 1
	case math.IsInf(th, 1) || e+th == 0:
		return 0
	}
	return e / (e + th)
}

// detectNAB runs the anomaly autoencoder m over every stream as the pipeline does (the
// stream's scaler, NaN fill, windows of m's width, mean squared reconstruction error) and
// returns one NAB results file per stream, keys[i] being stream i's label key. Row t gets
// anomalyScore of the window ending at t; the first W−1 rows, before a full window, get 0
// (they lie in NAB's probationary period). It returns an error when m is not an
// autoencoder over one field.
func detectNAB(m *models.Dense, streams []datasets.Stream, keys []string) ([]nabscore.File, error) {
	meta := m.Meta()
	if meta.Kind != models.KindAutoencoder || len(meta.Features) != 1 {
		return nil, fmt.Errorf("model %s: kind %q over %d fields, want an autoencoder over one field", meta.Name, meta.Kind, len(meta.Features))
	}
	total := 0
	for _, s := range streams {
		total += len(s.Values)
	}
	bar := newProgress(total, "scoring")
	defer bar.finish()
	files := make([]nabscore.File, len(streams))
	done := 0
	for i, s := range streams {
		f := nabscore.File{Key: keys[i], Times: s.Times, Values: s.Values, Scores: make([]float64, len(s.Values))}
		rows := make([][]float64, len(s.Values))
		for j, v := range s.Values {
			rows[j] = []float64{v}
		}
		sc, _ := meta.ScalerFor(s.Name)
		if x := models.Windows(models.ScaleAndFill(sc, rows), meta.Window); x != nil {
			r, c := x.Dims()
			y := mat.NewDense(r, c, nil)
			m.Predict(x, y)
			errs := make([]float64, r)
			models.ReconstructionErrors(x, y, errs)
			th := meta.ThresholdFor(s.Name)
			for k, e := range errs {
				f.Scores[k+meta.Window-1] = anomalyScore(e, th)
			}
		}
		files[i] = f
		done += len(s.Values)
		bar.update(done, "scoring "+s.Name)
	}
	return files, nil
}

// streamKeys finds each stream's key in labels: its own Key ("<folder>/<file>.csv"), else
// the one label key ending in "/<file>.csv". It returns an error naming a stream with no
// such key, or with several.
func streamKeys(streams []datasets.Stream, labels map[string][]datasets.Window) ([]string, error) {
	keys := make([]string, len(streams))
	for i, s := range streams {
		if _, ok := labels[s.Key]; ok {
			keys[i] = s.Key
			continue
		}
		var found []string
		for k := range labels {
			if strings.HasSuffix(k, "/"+s.Name+".csv") {
				found = append(found, k)
			}
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("stream %s: %d label keys end in /%s.csv, want 1 (give --labels)", s.Name, len(found), s.Name)
		}
		keys[i] = found[0]
	}
	return keys, nil
}

// writeNABResults writes files as NAB results of a detector under dir:
// <dir>/<detector>/<category>/<detector>_<name>.csv for the key <category>/<name>.csv.
func writeNABResults(dir, detector string, files []nabscore.File, labels map[string][]datasets.Window) error {
	for _, f := range files {
		category, name := filepath.Split(filepath.FromSlash(f.Key))
		path := filepath.Join(dir, detector, category, detector+"_"+name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		out, err := os.Create(path)
		if err != nil {
			return err
		}
		err = nabscore.WriteResults(out, f, labels[f.Key])
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}
