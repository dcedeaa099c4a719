package operators

import (
	"math"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

func valRec(vals ...float64) *pipeline.Record {
	r := pipeline.NewRecord("s/a", nil, time.Time{}, nil)
	r.Device, r.Values = "a", vals
	return r
}

func TestCleanRanges(t *testing.T) {
	op, err := NewClean([]string{"temp", "hum"}, map[string][2]float64{"temp": {-40, 85}}, true)
	if err != nil {
		t.Fatal(err)
	}
	nan, inf := math.NaN(), math.Inf(1)
	got := runOp(t, op, valRec(100, 50), valRec(-40, 1e6), valRec(85.0001, math.Inf(-1)), valRec(inf, nan))
	for i, want := range [][]float64{{nan, 50}, {-40, 1e6}, {nan, nan}, {nan, nan}} {
		if !sameFloats(got[i].Values, want) {
			t.Errorf("record %d: values %v, want %v", i, got[i].Values, want)
		}
	}
	for i, want := range []string{"", "", "clean: every field missing", "clean: every field missing"} {
		if got[i].DeadLetter != want {
			t.Errorf("record %d: dead letter %q, want %q", i, got[i].DeadLetter, want)
		}
	}
}

func TestCleanKeepsEmptyWithoutDropEmpty(t *testing.T) {
	op, err := NewClean([]string{"temp"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	got := runOp(t, op, valRec(math.NaN()))
	if got[0].Dead() || !math.IsNaN(got[0].Values[0]) {
		t.Errorf("got %+v, want a live record with a missing value", got[0])
	}
}

func TestCleanUnknownField(t *testing.T) {
	_, err := NewClean([]string{"temp"}, map[string][2]float64{"hum": {0, 100}}, true)
	if oe, ok := err.(*OptionError); !ok || oe.Field != fieldRanges {
		t.Errorf("error %v, want an OptionError on ranges", err)
	}
}
