package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/models/nabscore"
)

// detections are one NAB results file per stream for each way edgepipe scores a row.
type detections struct {
	// raw: anomaly_score = models.UnitScore(e, θ) of the row's reconstruction error e and
	// the stream's threshold θ (0.5 at the model's own threshold).
	raw []nabscore.File
	// likelihood: anomaly_score = models.LogLikelihood of the anomaly likelihood of the raw
	// scores (models.Likelihood with NAB's numenta options for the stream's probationary
	// period): ≥ models.LogLikelihood(1 − models.LikelihoodEpsilon) when L ≥ 1 − 1e-5.
	likelihood []nabscore.File
}

// likelihoodThreshold is edgepipe's own threshold on its likelihood anomaly_score: the
// paper's rule L ≥ 1 − ε with its default ε = 1e-5 (≈ 0.5, as NAB's numenta detector).
var likelihoodThreshold = models.LogLikelihood(1 - models.LikelihoodEpsilon)

// detectNAB runs the anomaly autoencoder m over every stream as the pipeline does (the
// stream's scaler, NaN fill, windows of m's width, mean squared reconstruction error) and
// returns both scorings of every stream (detections), keys[i] being stream i's label key.
// Row t is scored by the window ending at t; the first W−1 rows, before a full window, get
// raw score 0 (they lie in NAB's probationary period, whose first half the likelihood
// never uses). The likelihood of a stream is fitted online, row by row, on its own raw
// scores: no label and nothing after row t enters row t's score. It returns an error when m
// is not an autoencoder over one field, or a stream has no probationary period.
func detectNAB(m *models.Dense, streams []datasets.Stream, keys []string) (detections, error) {
	meta := m.Meta()
	if meta.Kind != models.KindAutoencoder || len(meta.Features) != 1 {
		return detections{}, fmt.Errorf("model %s: kind %q over %d fields, want an autoencoder over one field", meta.Name, meta.Kind, len(meta.Features))
	}
	total := 0
	for _, s := range streams {
		total += len(s.Values)
	}
	bar := newProgress(total, "scoring")
	defer bar.finish()
	d := detections{raw: make([]nabscore.File, len(streams)), likelihood: make([]nabscore.File, len(streams))}
	done := 0
	for i, s := range streams {
		raw := nabscore.File{Key: keys[i], Times: s.Times, Values: s.Values, Scores: make([]float64, len(s.Values))}
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
				raw.Scores[k+meta.Window-1] = models.UnitScore(e, th)
			}
		}
		l, err := models.NewLikelihood(models.NABLikelihoodOptions(models.ProbationaryRows(len(s.Values))))
		if err != nil {
			return detections{}, fmt.Errorf("stream %s (%d rows): %w", s.Name, len(s.Values), err)
		}
		lf := raw
		lf.Scores = make([]float64, len(raw.Scores))
		for k, v := range raw.Scores {
			lf.Scores[k] = models.LogLikelihood(l.Update(v))
		}
		d.raw[i], d.likelihood[i] = raw, lf
		done += len(s.Values)
		bar.update(done, "scoring "+s.Name)
	}
	return d, nil
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
