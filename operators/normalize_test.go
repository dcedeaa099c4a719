package operators

import (
	"math"
	"testing"

	"github.com/edgepipe/edgepipe/models"
)

func TestNormalize(t *testing.T) {
	meta := models.Meta{Name: "m", Features: []string{"hum", "temp"}, Scalers: map[string]models.Scaler{
		"":   {Mean: []float64{50, 20}, Std: []float64{10, 2}},
		"d2": {Mean: []float64{0, 0}, Std: []float64{1, 1}},
	}}
	op, err := NewNormalize(meta, []string{"temp", "hum", "pres"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r1, r2, r3 := valRec(24, 30, 1000), valRec(24, 30, 1000), valRec(math.NaN(), 60, 1)
	r1.Device, r2.Device, r3.Device = "d1", "d2", "d1"
	got := runOp(t, op, r1, r2, r3)
	// d1 uses the default: hum (30-50)/10 = -2, temp (24-20)/2 = 2.
	for i, want := range [][]float64{{-2, 2}, {30, 24}, {1, math.NaN()}} {
		if !sameFloats(got[i].Features, want) {
			t.Errorf("record %d: features %v, want %v", i, got[i].Features, want)
		}
	}
	if got[0].Values[0] != 24 {
		t.Errorf("values rescaled: %v", got[0].Values)
	}
}

// A z-score that overflows (a finite reading far beyond a tiny std) is missing, not ±Inf:
// nothing non-finite leaves normalize.
func TestNormalizeOverflowIsMissing(t *testing.T) {
	meta := models.Meta{Name: "m", Features: []string{"v"}, Scalers: map[string]models.Scaler{"": {Mean: []float64{-1e308}, Std: []float64{1e-10}}}}
	op, err := NewNormalize(meta, []string{"v"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := runOp(t, op, valRec(1e308), valRec(-1e308))
	if !sameFloats(got[0].Features, []float64{math.NaN()}) || !sameFloats(got[1].Features, []float64{0}) {
		t.Errorf("features %v %v, want [NaN] [0]", got[0].Features, got[1].Features)
	}
}

func TestNormalizeNoScaler(t *testing.T) {
	meta := models.Meta{Name: "m", Features: []string{"temp"}, Scalers: map[string]models.Scaler{"d1": {Mean: []float64{0}, Std: []float64{1}}}}
	op, err := NewNormalize(meta, []string{"temp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := valRec(3)
	r.Device = "unknown"
	r.Features = []float64{9}
	if got := runOp(t, op, r); got[0].Features != nil || got[0].Dead() {
		t.Errorf("features %v dead %q, want nil and live", got[0].Features, got[0].DeadLetter)
	}
}

func TestNormalizeFeatureMismatch(t *testing.T) {
	for _, meta := range []models.Meta{
		{Name: "m", Features: []string{"temp", "wind"}},
		{Name: "m", Features: []string{"temp"}, Scalers: map[string]models.Scaler{"": {Mean: []float64{0, 0}, Std: []float64{1, 1}}}},
		{Name: "m"},
	} {
		_, err := NewNormalize(meta, []string{"temp", "hum"}, nil)
		if oe, ok := err.(*OptionError); !ok || oe.Field != fieldModel {
			t.Errorf("%+v: error %v, want an OptionError on model", meta, err)
		}
	}
}
