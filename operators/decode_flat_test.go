package operators

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/edgepipe/edgepipe/pipeline"
)

// decodeStd is what parse does without the fast path: encoding/json's Decoder with
// UseNumber, and nothing but whitespace after the value.
func decodeStd(text []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, len(bytes.TrimSpace(text[dec.InputOffset():])) == 0
}

// The fast path returns exactly encoding/json's value for the flat objects it takes,
// and leaves every other text to the Decoder.
func TestParseFlatJSON(t *testing.T) {
	for _, in := range []string{
		`{"ts":1704067200000,"value":12.5}`,
		`{ "ts" : 1704067200000 , "value" : -0.5e-3 }`,
		"{\n\t\"a\":\r\n1}",
		`{}`, `{ }`,
		`{"a":0,"b":-0,"c":1E+2,"d":2e-2,"e":123456789012345678901234567890,"f":1e999}`,
		`{"dev":"kitchen","on":true,"off":false,"gone":null,"t":"2024-01-01T00:00:00Z"}`,
		`{"a":1,"a":2}`,           // the last duplicate wins
		`{"é":"ünïcödé ✓","":""}`, // UTF-8 and empty keys
		`{"a":"}"}`, `{"a":"{"}`,  // braces inside strings
	} {
		got, ok := parseFlatJSON([]byte(in))
		want, wantOK := decodeStd([]byte(in))
		if !ok || !wantOK || !reflect.DeepEqual(any(got), want) {
			t.Errorf("%s: fast path %v %#v, encoding/json %v %#v", in, ok, got, wantOK, want)
		}
	}
	for _, in := range []string{
		`{"a":{"b":1}}`, `{"a":[1]}`, `{"a":"x\"y"}`, `{"a\n":1}`, `{"a":"tab	"}`, `{"a":"\u00e9"}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":+1}`, `{"a":1e}`, `{"a":-}`, `{"a":1x}`, `{"a":tru}`,
		`{"a":truex}`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{"a":1 "b":2}`, `{1:2}`,
		`{"a":1}}`, `{"a":"}`, `{`, `}`, `{"a":NaN}`, `[{"a":1}]`, `"x"`,
	} {
		if got, ok := parseFlatJSON([]byte(in)); ok {
			t.Errorf("%s: fast path took it as %#v, want it left to encoding/json", in, got)
		}
	}
}

// FuzzParseFlatJSON: whatever the fast path takes, encoding/json decodes to the same
// value with nothing after it.
func FuzzParseFlatJSON(f *testing.F) {
	for _, s := range []string{`{"ts":1704067200000,"value":12.5}`, `{"a":"b","c":null,"d":true}`, `{"a":-1.5E+3}`, `{}`, `{"a":{"b":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		if !utf8.Valid(text) {
			return // parse checks UTF-8 first
		}
		text = bytes.Trim(text, jsonSpace)
		got, ok := parseFlatJSON(text)
		if !ok {
			return
		}
		want, wantOK := decodeStd(text)
		if !wantOK || !reflect.DeepEqual(any(got), want) {
			t.Fatalf("%q: fast path %#v, encoding/json %v %#v", text, got, wantOK, want)
		}
	})
}

// BenchmarkDecode decodes the demo's payload ({"ts": <epoch ms>, "value": <number>},
// the device from the topic): ns and allocations per reading.
func BenchmarkDecode(b *testing.B) {
	d, err := NewDecode([]string{"value"}, DecodeOptions{Format: FormatJSON, Device: "topic:1", TimeField: "ts", TimeUnit: "ms"})
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"ts":1704067200000,"value":12.5}`)
	arrival := time.Date(2024, 1, 1, 0, 0, 1, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		out := d.decode(pipeline.NewRecord("bench/nyc_taxi-000/reading", payload, arrival, nil))
		if out[0].Dead() {
			b.Fatal(out[0].DeadLetter)
		}
	}
}
