package operators

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/edgepipe/edgepipe/pipeline"
)

// vectorArrival is the arrival time decodeVector gives every message.
var vectorArrival = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// newVectorDecode returns a decode operator for the fields decl (entries as in a
// config's fields list, e.g. "px[4]").
func newVectorDecode(t *testing.T, decl []string, o DecodeOptions) *Decode {
	t.Helper()
	fields, vectors, err := pipeline.ExpandFields(decl)
	if err != nil {
		t.Fatal(err)
	}
	o.Vectors = vectors
	d, err := NewDecode(fields, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// decodeVector runs one message through d and returns the records it gives.
func decodeVector(t *testing.T, d *Decode, payload []byte) []*pipeline.Record {
	t.Helper()
	return runOp(t, d, pipeline.NewRecord("cameras/cam-1/image", payload, vectorArrival, nil))
}

func mustMsgpack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A vector field px[4] between two scalar fields, filled from an object's array, a bare
// array, or a batch of them, in JSON and msgpack: the values land in px0 … px3 in order,
// null, Infinity and a missing key are missing (NaN), numeric strings are numbers.
func TestDecodeVectorFields(t *testing.T) {
	nan := math.NaN()
	ts := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	d := newVectorDecode(t, []string{"t", "px[4]", "digit"}, DecodeOptions{})
	type rec struct {
		time   time.Time
		values []float64
	}
	for _, tc := range []struct {
		name    string
		payload []byte
		want    []rec
	}{
		{"JSON object", []byte(`{"ts": 1700000000, "t": 21.5, "px": [0, 255, "3", null], "digit": 7}`),
			[]rec{{ts, []float64{21.5, 0, 255, 3, nan, 7}}}},
		{"JSON non-finite literals", []byte(`{"ts": 1700000000, "px": [Infinity, -1.5e3, NaN, 1e-3]}`),
			[]rec{{ts, []float64{nan, nan, -1500, nan, 0.001, nan}}}},
		{"vector key missing", []byte(`{"ts": 1700000000, "t": 1}`), []rec{{ts, []float64{1, nan, nan, nan, nan, nan}}}},
		{"vector null", []byte(`{"ts": 1700000000, "px": null, "digit": 2}`), []rec{{ts, []float64{nan, nan, nan, nan, nan, 2}}}},
		{"msgpack object", mustMsgpack(t, map[string]any{"ts": int64(1700000000000), "px": []any{uint8(0), uint8(200), int64(-3), 0.25}, "digit": uint8(9)}),
			[]rec{{ts, []float64{nan, 0, 200, -3, 0.25, 9}}}},
		{"msgpack float32 and ±Inf", mustMsgpack(t, map[string]any{"ts": int64(1700000000000), "px": []any{float32(0.5), math.Inf(1), math.Inf(-1), nil}}),
			[]rec{{ts, []float64{nan, 0.5, nan, nan, nan, nan}}}},
		{"JSON bare array: arrival time", []byte(`[1, 2, 3, 4]`), []rec{{vectorArrival, []float64{nan, 1, 2, 3, 4, nan}}}},
		{"JSON bare array starting with null", []byte(`[null, 2, 3, 4]`), []rec{{vectorArrival, []float64{nan, nan, 2, 3, 4, nan}}}},
		{"msgpack bare array", mustMsgpack(t, []int{10, 20, 30, 255}), []rec{{vectorArrival, []float64{nan, 10, 20, 30, 255, nan}}}},
		{"batch of bare arrays and objects", []byte(`[[1, 2, 3, 4], {"ts": 1700000000, "px": [5, 6, 7, 8]}, [9, 10, 11, 12]]`), []rec{
			{vectorArrival, []float64{nan, 1, 2, 3, 4, nan}},
			{ts, []float64{nan, 5, 6, 7, 8, nan}},
			{vectorArrival, []float64{nan, 9, 10, 11, 12, nan}},
		}},
	} {
		got := decodeVector(t, d, tc.payload)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d records, want %d", tc.name, len(got), len(tc.want))
			continue
		}
		for i, r := range got {
			if r.Dead() || r.Device != "cam-1" || !r.Time.Equal(tc.want[i].time) || !sameFloats(r.Values, tc.want[i].values) {
				t.Errorf("%s: record %d: device %q, time %v, values %v, dead %q; want cam-1, %v, %v",
					tc.name, i, r.Device, r.Time, r.Values, r.DeadLetter, tc.want[i].time, tc.want[i].values)
			}
		}
	}
}

// Wrong vector lengths and elements that are not numbers are dead letters whose reason
// names the key (or the bare array), the element and what was wanted.
func TestDecodeVectorDeadLetters(t *testing.T) {
	d := newVectorDecode(t, []string{"t", "px[4]"}, DecodeOptions{})
	for _, tc := range []struct {
		name    string
		payload []byte
		reasons []string
	}{
		{"short", []byte(`{"ts": 1, "px": [1, 2, 3]}`), []string{`decode: field "px": 3 values, want 4 (px[4])`}},
		{"long", []byte(`{"ts": 1, "px": [1, 2, 3, 4, 5]}`), []string{`decode: field "px": 5 values, want 4 (px[4])`}},
		{"empty", []byte(`{"ts": 1, "px": []}`), []string{`decode: field "px": 0 values, want 4 (px[4])`}},
		{"scalar", []byte(`{"ts": 1, "px": 5}`), []string{`decode: field "px": a number, not an array of 4 numbers (px[4])`}},
		{"object", []byte(`{"ts": 1, "px": {"a": 1}}`), []string{`decode: field "px": an object, not an array of 4 numbers (px[4])`}},
		{"msgpack binary", mustMsgpack(t, map[string]any{"ts": 1, "px": []byte{1, 2, 3, 4}}), []string{`decode: field "px": a string, not an array of 4 numbers (px[4])`}},
		{"word", []byte(`{"ts": 1, "px": [1, 2, "abc", 4]}`), []string{`decode: field "px" element 2: "abc" is not a number`}},
		{"bool", []byte(`{"ts": 1, "px": [true, 2, 3, 4]}`), []string{`decode: field "px" element 0: true is not a number`}},
		{"nested array", []byte(`{"ts": 1, "px": [1, [2], 3, 4]}`), []string{`decode: field "px" element 1: an array is not a number`}},
		{"beyond float64", []byte(`{"ts": 1, "px": [1, 2, 3, 1e999]}`), []string{`decode: field "px" element 3: 1e999 is out of range for float64`}},
		{"bare short", []byte(`[1, 2, 3]`), []string{`decode: array: 3 values, want 4 (px[4])`}},
		{"bare word", []byte(`[1, 2, "x", 4]`), []string{`decode: array element 2: "x" is not a number`}},
		{"bare msgpack string", mustMsgpack(t, []any{"a", 1, 2, 3}), []string{`decode: array element 0: "a" is not a number`}},
		{"batch", []byte(`[[1, 2, 3, 4], [1, 2], [1, 2, 3, {}], 7]`), []string{
			"",
			`decode: array element 1: 2 values, want 4 (px[4])`,
			`decode: array element 2 element 3: an object is not a number`,
			`decode: array element 3 is a number, not an object or an array`,
		}},
		{"scalar field still checked", []byte(`{"ts": 1, "t": "warm", "px": [1, 2, 3, 4]}`), []string{`decode: field "t": "warm" is not a number`}},
	} {
		got := decodeVector(t, d, tc.payload)
		if len(got) != len(tc.reasons) {
			t.Errorf("%s: %d records, want %d", tc.name, len(got), len(tc.reasons))
			continue
		}
		for i, r := range got {
			if r.DeadLetter != tc.reasons[i] {
				t.Errorf("%s: record %d: dead letter %q, want %q", tc.name, i, r.DeadLetter, tc.reasons[i])
			}
			if r.Device != "cam-1" {
				t.Errorf("%s: record %d: device %q, want cam-1 (from the topic, before parsing)", tc.name, i, r.Device)
			}
		}
	}
}

// Bare arrays need the device from the topic and exactly one vector field; without a
// vector field they keep their old meaning (an array of readings, each to be an object).
func TestDecodeBareArrayNeedsOneVector(t *testing.T) {
	for _, tc := range []struct {
		name    string
		decl    []string
		o       DecodeOptions
		payload string
		reasons []string
	}{
		{"device from a field", []string{"px[2]"}, DecodeOptions{Device: "field:id"}, `[1, 2]`,
			[]string{`decode: array has no device field "id" (a bare array needs device: topic:N)`}},
		{"two vectors", []string{"acc[2]", "gyro[2]"}, DecodeOptions{}, `[1, 2]`,
			[]string{`decode: a bare array fills the pipeline's vector field when it has one, and it has 2 (acc, gyro): send an object`}},
		{"no vector", []string{"a", "b"}, DecodeOptions{}, `[1, 2]`,
			[]string{`decode: array element 0 is a number, not an object`, `decode: array element 1 is a number, not an object`}},
		{"no vector, nested", []string{"a"}, DecodeOptions{}, `[[1]]`, []string{`decode: array element 0 is an array, not an object`}},
	} {
		got := decodeVector(t, newVectorDecode(t, tc.decl, tc.o), []byte(tc.payload))
		if len(got) != len(tc.reasons) {
			t.Errorf("%s: %d records, want %d", tc.name, len(got), len(tc.reasons))
			continue
		}
		for i, r := range got {
			if r.DeadLetter != tc.reasons[i] {
				t.Errorf("%s: record %d: dead letter %q, want %q", tc.name, i, r.DeadLetter, tc.reasons[i])
			}
		}
	}
	// Two vectors in an object are fine.
	d := newVectorDecode(t, []string{"acc[2]", "gyro[2]"}, DecodeOptions{TimeFrom: TimeFromArrival})
	r := decodeVector(t, d, []byte(`{"acc": [1, 2], "gyro": [3, 4]}`))
	if len(r) != 1 || r[0].Dead() || !sameFloats(r[0].Values, []float64{1, 2, 3, 4}) {
		t.Errorf("two vectors in an object: %+v", r)
	}
}

// map takes a vector field by its name; a position of a vector, or a name that is
// neither a field nor a vector, is an option error listing the fields as declared.
func TestDecodeVectorMap(t *testing.T) {
	d := newVectorDecode(t, []string{"t", "px[3]"}, DecodeOptions{Map: map[string]string{"px": "frame.pixels", "t": "temp"}})
	r := decodeVector(t, d, []byte(`{"ts": 1700000000, "temp": 4, "frame": {"pixels": [7, 8, 9]}, "px": [0, 0, 0]}`))
	if len(r) != 1 || r[0].Dead() || !sameFloats(r[0].Values, []float64{4, 7, 8, 9}) {
		t.Fatalf("mapped vector: %+v", r[0])
	}
	fields, vectors, _ := pipeline.ExpandFields([]string{"t", "px[3]", "digit"})
	for _, tc := range []struct {
		o    DecodeOptions
		want string
	}{
		{DecodeOptions{Map: map[string]string{"px1": "b"}, Vectors: vectors},
			`map: "px1" is position 1 of the vector field px[3]: map "px", whose key holds the whole array`},
		{DecodeOptions{Map: map[string]string{"nosuch": "b"}, Vectors: vectors},
			`map: "nosuch" is not a pipeline field (fields: t, px[3], digit)`},
		{DecodeOptions{Map: map[string]string{"px": ""}, Vectors: vectors}, `map: px: empty payload key`},
		{DecodeOptions{Vectors: []pipeline.Vector{{Name: "q", Start: 3, Width: 3}}},
			`fields: vector field q[3] at position 3 is outside the 5 fields`},
	} {
		_, err := NewDecode(fields, tc.o)
		if err == nil || err.Error() != tc.want {
			t.Errorf("NewDecode(%+v) = %v, want %s", tc.o, err, tc.want)
		}
	}
}

// Built from a pipeline file, decode gets the vector fields from the top-level fields
// list (pipeline.Env.Vectors): a bare msgpack array of 784 pixels fills px000 … px783.
func TestDecodeBuildVectorFromConfig(t *testing.T) {
	cfg, err := pipeline.Parse(filepath.Join(t.TempDir(), "v.yaml"), []byte(`site: s
fields: ["px[784]", digit]
input: {type: test}
pipeline:
  - {type: decode, format: msgpack}
store: {type: test}
summarize: {type: tumbling}
`))
	if err != nil {
		t.Fatal(err)
	}
	op, err := cfg.Pipeline[0].Spec.Build(cfg.Pipeline[0], &pipeline.Env{Fields: cfg.Fields(), Vectors: cfg.Vectors()})
	if err != nil {
		t.Fatal(err)
	}
	img := make([]int, 784)
	for i := range img {
		img[i] = i % 256
	}
	got := decodeVector(t, op.(*Decode), mustMsgpack(t, img))
	if len(got) != 1 || got[0].Dead() || len(got[0].Values) != 785 {
		t.Fatalf("got %+v", got)
	}
	for i, v := range got[0].Values[:784] {
		if v != float64(i%256) {
			t.Fatalf("px%03d = %v, want %d", i, v, i%256)
		}
	}
	if !math.IsNaN(got[0].Values[784]) {
		t.Errorf("digit = %v, want missing", got[0].Values[784])
	}
	if cfg.Fields()[0] != "px000" || cfg.Fields()[783] != "px783" {
		t.Errorf("fields %q … %q", cfg.Fields()[0], cfg.Fields()[783])
	}
}
