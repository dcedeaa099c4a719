package models

import (
	"strings"
	"testing"
)

func TestCheckReplacement(t *testing.T) {
	cur := sampleModel(t)
	retrained := func(sizes []int, meta func(*Meta)) *Dense {
		acts := make([]Activation, len(sizes)-1)
		for i := range acts {
			acts[i] = ActTanh
		}
		d, err := NewDense(sizes, acts, 9)
		if err != nil {
			t.Fatal(err)
		}
		m := cur.Meta()
		m.Scalers = map[string]Scaler{"": {Mean: []float64{0, 0}, Std: []float64{1, 1}}}
		m.Thresholds = map[string]float64{"": 2}
		meta(&m)
		d.SetMeta(m)
		return d
	}
	for _, c := range []struct {
		name string
		next *Dense
		want string // "" = accepted
	}{
		{"new weights, hidden layers, scalers, thresholds", retrained([]int{4, 2, 2, 4}, func(*Meta) {}), ""},
		{"kind", retrained([]int{4, 4}, func(m *Meta) { m.Kind, m.Classes = KindClassifier, []string{"a", "b", "c", "d"} }),
			`model "ae" has kind "classifier", the running model "ae" kind "autoencoder"`},
		{"feature order", retrained([]int{4, 4}, func(m *Meta) { m.Name, m.Features = "swapped", []string{"hum", "temp"} }),
			`model "swapped" reads features ["hum" "temp"], the running model "ae" reads ["temp" "hum"]`},
		{"window", retrained([]int{2, 2}, func(m *Meta) { m.Features, m.Window = []string{"temp"}, 2 }),
			`reads features ["temp"]`},
		{"window, same features", retrained([]int{6, 6}, func(m *Meta) { m.Window = 3 }),
			`model "ae" has a window of 3 readings, the running model "ae" of 2`},
		{"input width", retrained([]int{6, 6}, func(*Meta) {}), `model "ae" takes 6 inputs, the running model "ae" takes 4`},
	} {
		err := CheckReplacement(cur, c.next)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want accepted", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
