package models

import "math"

// Scaler is a per-field z-score: z = (v-Mean)/Std. Mean and Std have one entry per feature
// field, in physical units. Std is never 0: a constant field gets Std 1.
type Scaler struct {
	Mean, Std []float64
}

// Apply writes dst[i] = (v[i]-Mean[i])/Std[i]; a NaN (missing) value stays NaN. v and dst
// have len(Mean) entries and may be the same slice; it panics on a length mismatch.
func (s Scaler) Apply(v, dst []float64) {
	if len(v) != len(s.Mean) || len(dst) != len(s.Mean) || len(s.Std) != len(s.Mean) {
		panic("models: Scaler.Apply: length mismatch")
	}
	for i, x := range v {
		dst[i] = (x - s.Mean[i]) / s.Std[i]
	}
}

// FitScaler fits a scaler on rows (n × F, physical units), ignoring NaN: per field the mean
// and the population standard deviation. A field with fewer than two finite values or a
// zero spread gets Std 1 (and Mean 0 when it has no finite value).
func FitScaler(rows [][]float64, fields int) Scaler {
	s := Scaler{Mean: make([]float64, fields), Std: make([]float64, fields)}
	for j := 0; j < fields; j++ {
		var n, sum float64
		for _, r := range rows {
			if x := r[j]; !math.IsNaN(x) && !math.IsInf(x, 0) {
				n++
				sum += x
			}
		}
		s.Std[j] = 1
		if n == 0 {
			continue
		}
		mean := sum / n
		var ss float64
		for _, r := range rows {
			if x := r[j]; !math.IsNaN(x) && !math.IsInf(x, 0) {
				ss += (x - mean) * (x - mean)
			}
		}
		s.Mean[j] = mean
		if sd := math.Sqrt(ss / n); n >= 2 && sd > 0 && !math.IsInf(sd, 0) {
			s.Std[j] = sd
		}
	}
	return s
}
