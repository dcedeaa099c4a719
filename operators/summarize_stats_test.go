package operators

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// stats selects the fields a summary describes: by name, a vector field by its name
// (all its positions), none with an empty list; the counts and labels stay whatever it
// selects, and the statistics of a selected field are those of every field.
func TestTumblingStats(t *testing.T) {
	fields, vectors, err := pipeline.ExpandFields([]string{"t", "v[3]", "digit"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stats []string
		want  []string
	}{
		{nil, []string{"t", "v0", "v1", "v2", "digit"}},
		{[]string{}, nil},
		{[]string{"digit"}, []string{"digit"}},
		{[]string{"v", "t"}, []string{"t", "v0", "v1", "v2"}},
		{[]string{"v1"}, []string{"v1"}},
	} {
		s, err := NewTumbling(TumblingOptions{Site: "s", Fields: fields, Vectors: vectors, Stats: tc.stats, Window: time.Minute, CloseOnDrain: true})
		if err != nil {
			t.Fatal(err)
		}
		var recs []*pipeline.Record
		for i := range 4 {
			r := pipeline.NewRecord("s/a", nil, time.Time{}, nil)
			r.Device, r.Time, r.Label = "a", base.Add(time.Duration(i)*time.Second), []string{"x", "y"}[i%2]
			r.Values = []float64{float64(i), 10 + float64(i), 20 + float64(i), 30 + float64(i), 7}
			recs = append(recs, r)
		}
		s.Add(recs)
		out := s.Drain()
		if len(out) != 1 {
			t.Fatalf("stats %q: %d summaries, want 1", tc.stats, len(out))
		}
		got := slices.Sorted(maps.Keys(out[0].Fields))
		if !slices.Equal(got, slices.Sorted(slices.Values(tc.want))) {
			t.Errorf("stats %q: fields %q, want %q", tc.stats, got, tc.want)
		}
		if out[0].Count != 4 || out[0].Labels["x"] != 2 || out[0].Labels["y"] != 2 {
			t.Errorf("stats %q: count %d labels %v, want 4, x 2, y 2", tc.stats, out[0].Count, out[0].Labels)
		}
		// v1 takes 20, 21, 22, 23: mean 21.5, min 20, max 23.
		if v1, ok := out[0].Fields["v1"]; ok && (val(v1.Mean) != 21.5 || val(v1.Min) != 20 || val(v1.Max) != 23) {
			t.Errorf("stats %q: v1 mean %v min %v max %v, want 21.5, 20, 23", tc.stats, val(v1.Mean), val(v1.Min), val(v1.Max))
		}
	}
	_, err = NewTumbling(TumblingOptions{Fields: fields, Vectors: vectors, Stats: []string{"w"}, Window: time.Minute})
	if want := `stats: "w" is not a pipeline field (fields: t, v[3], digit)`; err == nil || err.Error() != want {
		t.Errorf("unknown stats field: %v, want %s", err, want)
	}
}
