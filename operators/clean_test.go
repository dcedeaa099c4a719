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
	op, err := NewClean([]string{"temp", "hum"}, CleanOptions{Ranges: map[string][2]float64{"temp": {-40, 85}}, DropEmpty: true})
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
	op, err := NewClean([]string{"temp"}, CleanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := runOp(t, op, valRec(math.NaN()))
	if got[0].Dead() || !math.IsNaN(got[0].Values[0]) {
		t.Errorf("got %+v, want a live record with a missing value", got[0])
	}
}

func TestCleanUnknownField(t *testing.T) {
	_, err := NewClean([]string{"temp"}, CleanOptions{Ranges: map[string][2]float64{"hum": {0, 100}}, DropEmpty: true})
	if oe, ok := err.(*OptionError); !ok || oe.Field != fieldRanges {
		t.Errorf("error %v, want an OptionError on ranges", err)
	}
}

func TestCleanSentinels(t *testing.T) {
	op, err := NewClean([]string{"temp", "hum"}, CleanOptions{Sentinels: map[string][]float64{"temp": {85, -127}, "hum": {-999}}, DropEmpty: true})
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	got := runOp(t, op, valRec(85, 40), valRec(-127, -999), valRec(84.9375, -998), valRec(21, 85))
	for i, want := range [][]float64{{nan, 40}, {nan, nan}, {84.9375, -998}, {21, 85}} {
		if !sameFloats(got[i].Values, want) {
			t.Errorf("record %d: values %v, want %v", i, got[i].Values, want)
		}
	}
	if got[1].DeadLetter != "clean: every field missing" || got[0].Dead() {
		t.Errorf("dead letters %q %q, want \"\" and every field missing", got[0].DeadLetter, got[1].DeadLetter)
	}
	for _, s := range []map[string][]float64{{"wind": {0}}, {"temp": {math.NaN()}}} {
		if _, err := NewClean([]string{"temp"}, CleanOptions{Sentinels: s}); !isOptionError(err, fieldSentinels) {
			t.Errorf("sentinels %v: error %v, want an OptionError on sentinels", s, err)
		}
	}
}

func isOptionError(err error, field string) bool {
	oe, ok := err.(*OptionError)
	return ok && oe.Field == field
}
