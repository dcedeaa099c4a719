package models

import "math"

// UnitScore maps a reconstruction error e ≥ 0 (squared z-score units, ReconstructionErrors)
// to a score in [0, 1] as e/(e+θ), θ being the device's threshold (Meta.ThresholdFor): 0 for
// a perfect reconstruction, 0.5 exactly at the threshold (so UnitScore ≥ 0.5 is the model's
// own detection rule, e ≥ θ), towards 1 as e grows. It is monotone in e, so within a device
// it ranks rows as e does, and dividing by θ puts devices on one scale. It is the raw score
// in [0, 1] that NAB's results format and Likelihood expect. An infinite e gives 1; θ = +Inf
// (no threshold) or e = θ = 0 give 0.
func UnitScore(e, th float64) float64 {
	switch {
	case math.IsInf(e, 1):
		return 1
	case math.IsInf(th, 1) || e+th == 0:
		return 0
	}
	return e / (e + th)
}
