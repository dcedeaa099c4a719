package nabscore

import (
	"time"

	"github.com/edgepipe/edgepipe/datasets"
)

// File is one data file as a detector scored it: n rows in time order.
type File struct {
	// Key names the file in NAB's label file: "<category>/<name>.csv".
	Key string
	// Times (UTC), Values (the reading, physical units) and Scores (the detector's
	// anomaly_score, in [0, 1]) have n entries each; Values may be nil for scoring.
	Times  []time.Time
	Values []float64
	Scores []float64
}

// Corpus is a set of scored files with their labelled anomaly windows: Windows maps a
// File.Key to its windows (inclusive, UTC, in time order), as datasets.ReadNABLabels
// returns them.
type Corpus struct {
	Files   []File
	Windows map[string][]datasets.Window
}
