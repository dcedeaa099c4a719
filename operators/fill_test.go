package operators

import (
	"math"
	"testing"
)

func TestFillPrevious(t *testing.T) {
	op, err := NewFill(FillPrevious)
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	got := runOp(t, op,
		featRec("a", nan, 1),
		featRec("a", 2, nan),
		featRec("b", nan, 5),
		featRec("a", nan, nan),
		featRec("a"), // nil features pass untouched
		featRec("a", 7, nan),
		featRec("a", math.Inf(1), math.Inf(-1)),
	)
	for i, want := range [][]float64{{0, 1}, {2, 1}, {0, 5}, {2, 1}, nil, {7, 1}, {7, 1}} {
		if !sameFloats(got[i].Features, want) {
			t.Errorf("record %d: features %v, want %v", i, got[i].Features, want)
		}
	}
}

func TestFillZero(t *testing.T) {
	op, err := NewFill(FillZero)
	if err != nil {
		t.Fatal(err)
	}
	got := runOp(t, op, featRec("a", 4, 3), featRec("a", math.NaN(), 3), featRec("a", math.Inf(1), math.Inf(-1)))
	if !sameFloats(got[1].Features, []float64{0, 3}) || !sameFloats(got[2].Features, []float64{0, 0}) {
		t.Errorf("features %v %v, want [0 3] [0 0]", got[1].Features, got[2].Features)
	}
	if _, err := NewFill("mean"); err == nil {
		t.Error("method mean accepted")
	}
}
