package main

import (
	"math"

	"gonum.org/v1/plot/plotter"

	"github.com/edgepipe/edgepipe/connectors/store"
)

// deviceSeries is one device's stored readings reduced for drawing at a fixed width: the
// values of the drawn fields and the anomaly scores decimated by minMax, and per bucket
// the detected reading (anomaly flag set) with the highest score. Its size depends on the
// number of buckets and drawn fields only, not on the number of readings.
type deviceSeries struct {
	device   string
	from, to int64 // event-time span in ns since the Unix epoch
	// cols are the indices in Inference.Values of the drawn fields; values[i] is cols[i]'s.
	cols   []int
	values []*minMax
	scores *minMax
	// detections[b] is bucket b's detected reading with the highest score (ok false: none).
	detections []detection
	// readings, scored and anomalies count the readings added, those with a score, and
	// those flagged as anomalies.
	readings, scored, anomalies int
	// models counts the readings scored by each model version.
	models map[string]int
}

// detection is a reading the model flagged: its time (ns), score and values (all fields).
type detection struct {
	t      int64
	score  float64
	values []float64
	ok     bool
}

// newDeviceSeries returns an empty series of the fields at indices cols over [from, to]
// (ns) with buckets ≥ 1 buckets.
func newDeviceSeries(device string, cols []int, from, to int64, buckets int) *deviceSeries {
	s := &deviceSeries{device: device, from: from, to: to, cols: cols, scores: newMinMax(from, to, buckets),
		detections: make([]detection, buckets), models: map[string]int{}}
	for range cols {
		s.values = append(s.values, newMinMax(from, to, buckets))
	}
	return s
}

// add takes one stored reading of the device. Fields it lacks, NaN values and NaN scores
// (missing, unscored) are skipped.
func (s *deviceSeries) add(inf store.Inference) {
	t := inf.Time.UnixNano()
	s.readings++
	for i, m := range s.values {
		if c := s.cols[i]; c < len(inf.Values) {
			m.add(t, inf.Values[c])
		}
	}
	if math.IsNaN(inf.Score) {
		return
	}
	s.scored++
	s.models[inf.Model]++
	s.scores.add(t, inf.Score)
	if !inf.Anomaly {
		return
	}
	s.anomalies++
	b := s.scores.bucket(t)
	if d := &s.detections[b]; !d.ok || inf.Score > d.score {
		*d = detection{t: t, score: inf.Score, values: inf.Values, ok: true}
	}
}

// detectionXYs returns the kept detections (at most one per bucket, in time order, x in
// Unix seconds) as points on the score panel and, per drawn field, on that field's panel
// (a missing value is left out).
func (s *deviceSeries) detectionXYs() (scores plotter.XYs, values []plotter.XYs) {
	values = make([]plotter.XYs, len(s.values))
	for _, d := range s.detections {
		if !d.ok {
			continue
		}
		x := unixSeconds(d.t)
		scores = append(scores, plotter.XY{X: x, Y: d.score})
		for i, c := range s.cols {
			if c < len(d.values) && !math.IsNaN(d.values[c]) && !math.IsInf(d.values[c], 0) {
				values[i] = append(values[i], plotter.XY{X: x, Y: d.values[c]})
			}
		}
	}
	return scores, values
}
