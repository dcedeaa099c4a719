package models

import (
	"math"
	"testing"
)

func TestUnitScore(t *testing.T) {
	for _, c := range []struct{ e, th, want float64 }{
		{0, 2, 0}, {2, 2, 0.5}, {6, 2, 0.75}, {math.Inf(1), 2, 1}, {5, math.Inf(1), 0}, {0, 0, 0}, {1, 0, 1},
	} {
		if got := UnitScore(c.e, c.th); got != c.want {
			t.Errorf("UnitScore(%v, %v) = %v, want %v", c.e, c.th, got, c.want)
		}
	}
}
