// Package models holds edgepipe's neural-network models: the Model interface, dense
// feed-forward networks on gonum (mat.Dense), autoencoder anomaly scoring (reconstruction
// error against a threshold), the model file format (msgpack) and training with mini-batch
// Adam. It knows nothing of the pipeline.
package models

import (
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Kind says how a model's output is read.
type Kind string

const (
	// KindAutoencoder reconstructs its input; the anomaly score of a row is the mean squared
	// reconstruction error (ReconstructionErrors), compared with Meta.ThresholdFor.
	KindAutoencoder Kind = "autoencoder"
	// KindClassifier outputs one score per class (Meta.Classes), usually softmax
	// probabilities; the label is the class with the largest output.
	KindClassifier Kind = "classifier"
)

// Model is a trained network the pipeline runs inference with.
type Model interface {
	// Predict computes the outputs of a batch: in is rows × InputWidth(), out is
	// rows × OutputWidth() and is overwritten. It panics when a shape does not match (a
	// programming error, not bad data). It is safe for concurrent use by several goroutines:
	// every call uses its own scratch memory.
	Predict(in, out *mat.Dense)
	// InputWidth is the number of columns of an input row.
	InputWidth() int
	// OutputWidth is the number of columns of an output row.
	OutputWidth() int
	// Meta describes the model: name, version, features, scalers, thresholds.
	Meta() Meta
}

// Meta is a model's metadata: everything the pipeline needs to build its input rows and to
// read its output.
type Meta struct {
	Name string
	Kind Kind
	// Version is the content hash: the first 16 hex characters of the SHA-256 of the encoded
	// model file with Version empty (see README.md). Encode and SetMeta keep it current.
	Version string
	// Features are the pipeline field names the model reads, in order (F fields).
	Features []string
	// Window is the number of readings per input row: InputWidth() == Window*len(Features).
	// A row holds the Window readings oldest first, each reading's F fields together.
	Window int
	// Scalers are the z-score scalers per device id; key "" is the default for devices not
	// listed.
	Scalers map[string]Scaler
	// Thresholds are the anomaly thresholds on the score (mean squared error of the z-scored
	// window) per device id; key "" is the default.
	Thresholds map[string]float64
	// Classes are the class names of a classifier, OutputWidth() == len(Classes).
	Classes []string
	// TrainedFrom and TrainedTo bound the event times (UTC) of the training rows; TrainRows
	// is the number of readings trained on.
	TrainedFrom, TrainedTo time.Time
	TrainRows              int
}

// ScalerFor returns the device's scaler, else the "" default, else false.
func (m Meta) ScalerFor(device string) (Scaler, bool) {
	if s, ok := m.Scalers[device]; ok {
		return s, true
	}
	s, ok := m.Scalers[""]
	return s, ok
}

// ThresholdFor returns the device's anomaly threshold, else the "" default, else +Inf (no
// score is then an anomaly).
func (m Meta) ThresholdFor(device string) float64 {
	if t, ok := m.Thresholds[device]; ok {
		return t
	}
	if t, ok := m.Thresholds[""]; ok {
		return t
	}
	return math.Inf(1)
}
