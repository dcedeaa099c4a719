package operators

import (
	"testing"

	"github.com/edgepipe/edgepipe/pipeline"
)

func TestWindowSize2(t *testing.T) {
	op, err := NewWindow(2)
	if err != nil {
		t.Fatal(err)
	}
	got := runOp(t, op,
		featRec("a", 1, 2),
		featRec("b", 10, 20), // another device has its own window
		featRec("a", 3, 4),
		featRec("a"), // not scored: not added
		featRec("a", 5, 6),
	)
	for i, want := range [][]float64{nil, nil, {1, 2, 3, 4}, nil, {3, 4, 5, 6}} {
		if !sameFloats(got[i].Features, want) || (want == nil) != (got[i].Features == nil) {
			t.Errorf("record %d: features %v, want %v", i, got[i].Features, want)
		}
	}
}

func TestWindowWrapsOldestFirst(t *testing.T) {
	op, err := NewWindow(3)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*pipeline.Record
	for i := 1; i <= 5; i++ {
		recs = append(recs, featRec("a", float64(i)))
	}
	got := runOp(t, op, recs...)
	for i, want := range [][]float64{nil, nil, {1, 2, 3}, {2, 3, 4}, {3, 4, 5}} {
		if !sameFloats(got[i].Features, want) {
			t.Errorf("record %d: features %v, want %v", i, got[i].Features, want)
		}
	}
	// The output is a fresh slice: a later reading does not change an emitted window.
	if !sameFloats(got[2].Features, []float64{1, 2, 3}) {
		t.Errorf("emitted window changed to %v", got[2].Features)
	}
	if _, err := NewWindow(0); err == nil {
		t.Error("size 0 accepted")
	}
}
