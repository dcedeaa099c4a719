package models

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// OneHot returns the n × classes target matrix of labels (n entries, each in
// [0, classes)): row i is 1 in column labels[i] and 0 elsewhere. It returns an error for
// classes < 2 or a label out of range.
func OneHot(labels []int, classes int) (*mat.Dense, error) {
	if classes < 2 {
		return nil, fmt.Errorf("models: OneHot: %d classes, want ≥ 2", classes)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("models: OneHot: no labels")
	}
	t := mat.NewDense(len(labels), classes, nil)
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("models: OneHot: label %d of row %d is not in [0, %d)", l, i, classes)
		}
		t.Set(i, l, 1)
	}
	return t, nil
}

// ArgMax returns the index of the largest entry of row (the first on a tie), -1 for an
// empty row. It is the predicted class of a classifier's output row.
func ArgMax(row []float64) int {
	best := -1
	for j, v := range row {
		if best < 0 || v > row[best] {
			best = j
		}
	}
	return best
}

// Accuracy returns the fraction of the rows of x (n × InputWidth) whose predicted class
// (ArgMax of m's output row) equals labels[i] (n entries), computed in batches of 1024
// rows. It panics when len(labels) differs from n or x's width from m's (programming
// errors).
func Accuracy(m Model, x *mat.Dense, labels []int) float64 {
	n, c := x.Dims()
	if n != len(labels) {
		panic(fmt.Sprintf("models: Accuracy: %d rows and %d labels", n, len(labels)))
	}
	var correct int
	for start := 0; start < n; start += evalRows {
		end := min(start+evalRows, n)
		out := mat.NewDense(end-start, m.OutputWidth(), nil)
		m.Predict(x.Slice(start, end, 0, c).(*mat.Dense), out)
		for i := range end - start {
			if ArgMax(out.RawRowView(i)) == labels[start+i] {
				correct++
			}
		}
	}
	return float64(correct) / float64(n)
}

// countCorrect counts the rows where the largest output of y and the largest target of t
// (both n × K) are in the same column.
func countCorrect(y, t *mat.Dense) int {
	n, _ := y.Dims()
	var c int
	for i := 0; i < n; i++ {
		if ArgMax(y.RawRowView(i)) == ArgMax(t.RawRowView(i)) {
			c++
		}
	}
	return c
}
