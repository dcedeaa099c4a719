package nabscore

import (
	"encoding/json"
	"fmt"
	"io"
)

// Threshold is a detector's optimised threshold for one profile and the raw score it gave
// on NAB's full corpus: an entry of NAB's config/thresholds.json.
type Threshold struct {
	Threshold float64 `json:"threshold"`
	Score     float64 `json:"score"`
}

// ReadThresholds reads NAB's config/thresholds.json: detector → profile → Threshold.
func ReadThresholds(r io.Reader) (map[string]map[string]Threshold, error) {
	var out map[string]map[string]Threshold
	if err := json.NewDecoder(r).Decode(&out); err != nil {
		return nil, fmt.Errorf("nabscore: thresholds: %w", err)
	}
	return out, nil
}

// ReadFinalResults reads NAB's results/final_results.json: detector → profile → the
// normalised score (0 = null detector, 100 = perfect) on NAB's full corpus of 58 files.
func ReadFinalResults(r io.Reader) (map[string]map[string]float64, error) {
	var out map[string]map[string]float64
	if err := json.NewDecoder(r).Decode(&out); err != nil {
		return nil, fmt.Errorf("nabscore: final results: %w", err)
	}
	return out, nil
}
