package models

import (
	"math"
	"reflect"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestScalerApplyAndFit(t *testing.T) {
	s := Scaler{Mean: []float64{10, 0}, Std: []float64{2, 4}}
	dst := make([]float64, 2)
	s.Apply([]float64{14, math.NaN()}, dst)
	if dst[0] != 2 || !math.IsNaN(dst[1]) {
		t.Errorf("Apply = %v, want [2 NaN]", dst)
	}
	nan := math.NaN()
	f := FitScaler([][]float64{{1, 5, nan}, {3, 5, nan}, {nan, 5, nan}, {5, 5, nan}}, 3)
	// Field 0: 1, 3, 5 → mean 3, population std √(8/3); field 1 constant → std 1; field 2 empty.
	want := Scaler{Mean: []float64{3, 5, 0}, Std: []float64{math.Sqrt(8.0 / 3), 1, 1}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("FitScaler = %v, want %v", f, want)
	}
}

func TestScaleAndFill(t *testing.T) {
	s := Scaler{Mean: []float64{1, 0}, Std: []float64{1, 2}}
	nan := math.NaN()
	got := ScaleAndFill(s, [][]float64{{nan, 2}, {3, nan}, {nan, nan}, {0, 4}})
	want := [][]float64{{0, 1}, {2, 1}, {2, 1}, {-1, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ScaleAndFill = %v, want %v", got, want)
	}
}

func TestWindows(t *testing.T) {
	z := [][]float64{{1, 10}, {2, 20}, {3, 30}, {4, 40}}
	got := Windows(z, 3)
	want := mat.NewDense(2, 6, []float64{
		1, 10, 2, 20, 3, 30,
		2, 20, 3, 30, 4, 40,
	})
	if !mat.Equal(got, want) {
		t.Errorf("Windows =\n%v\nwant\n%v", mat.Formatted(got), mat.Formatted(want))
	}
	if Windows(z, 5) != nil {
		t.Error("Windows of 4 rows with window 5 is not nil")
	}
}

func TestReconstructionErrors(t *testing.T) {
	in := mat.NewDense(2, 3, []float64{1, 2, 3, 0, 0, 0})
	out := mat.NewDense(2, 3, []float64{1, 4, 0, 1, -1, 1})
	dst := make([]float64, 2)
	ReconstructionErrors(in, out, dst)
	// Row 0: (0 + 4 + 9)/3; row 1: (1+1+1)/3.
	if dst[0] != 13.0/3 || dst[1] != 1 {
		t.Errorf("errors %v, want [4.333 1]", dst)
	}
}
