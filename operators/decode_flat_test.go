package operators

import (
	"bytes"
	"encoding/json"
	"reflect"
	"syscall"
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
	cpu0 := processCPU(b)
	for b.Loop() {
		out := d.decode(pipeline.NewRecord("bench/nyc_taxi-000/reading", payload, arrival, nil))
		if out[0].Dead() {
			b.Fatal(out[0].DeadLetter)
		}
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU returns the CPU time (user + system) the process has used so far: on a
// machine shared with other work it varies much less than the wall time.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// flatDecoders are decoders whose fast path (fillFlat) is on, over the options it
// reads: device from the topic or from a field, time from a field (each unit) or from
// arrival, a map with a dotted key, two fields on one key, max_past.
func flatDecoders(t testing.TB) []*Decode {
	var ds []*Decode
	for _, o := range []DecodeOptions{
		{Format: FormatJSON, TimeUnit: UnitMs},
		{Format: FormatAuto, TimeUnit: UnitAuto, MaxFuture: DefaultMaxFuture},
		{Format: FormatJSON, TimeUnit: UnitS, Device: "field:dev", Map: map[string]string{"temp": "env.t", "hum": "t"}},
		{Format: FormatJSON, TimeUnit: UnitRFC3339, Device: "field:dev"},
		{Format: FormatJSON, TimeFrom: TimeFromArrival, Map: map[string]string{"pres": "temp"}, MaxPast: time.Hour},
		{Format: FormatJSON, TimeField: "time", TimeUnit: UnitNs, StrictJSON: true, MaxPast: time.Hour},
	} {
		d, err := NewDecode(decodeFields, o)
		if err != nil {
			t.Fatal(err)
		}
		if d.flatKeys == nil {
			t.Fatalf("%+v: fast path off", o)
		}
		ds = append(ds, d)
	}
	return ds
}

// checkFlatSame decodes payload with and without the fast path and fails unless both
// give the same records (device, time, values, dead letter).
func checkFlatSame(t *testing.T, d *Decode, payload []byte) {
	arrival := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	fast := d.decode(pipeline.NewRecord("s/dev1/x", payload, arrival, nil))
	general := *d
	general.flatKeys = nil
	slow := general.decode(pipeline.NewRecord("s/dev1/x", payload, arrival, nil))
	if len(fast) != len(slow) {
		t.Fatalf("%q: %d records with the fast path, %d without", payload, len(fast), len(slow))
	}
	for i := range fast {
		f, s := fast[i], slow[i]
		if f.Device != s.Device || !f.Time.Equal(s.Time) || f.Time.Location() != s.Time.Location() ||
			f.DeadLetter != s.DeadLetter || !sameValues(f.Values, s.Values) {
			t.Fatalf("%q: fast path %q %v %v %q, general path %q %v %v %q", payload,
				f.Device, f.Time, f.Values, f.DeadLetter, s.Device, s.Time, s.Values, s.DeadLetter)
		}
	}
}

// sameValues compares values, NaN equal to NaN.
func sameValues(a, b []float64) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

// The fast path (fillFlat) gives the records the general path (parseFlatJSON or
// encoding/json, then fill) gives, for the payloads it takes and for those it leaves.
func TestFillFlatSameAsGeneral(t *testing.T) {
	payloads := []string{
		`{"ts":1714564800000,"temp":21.5,"hum":40,"pres":null}`,
		`{"ts":1714564800,"temp":"21.5","hum":" 40 ","time":1714564800000000000}`,
		`{"ts":1714564800000,"temp":1,"temp":2}`, `{"ts":1,"ts":1714564800000,"temp":1}`,
		`{"ts":1714564800000.5,"temp":1e999}`, `{"ts":1714564800000,"temp":-0,"hum":1E-400}`,
		`{"ts":"2024-05-01T12:00:00Z","temp":1,"dev":"k1"}`, `{"ts":1714564800,"dev":42,"temp":1}`,
		`{"ts":1714564800,"dev":"","temp":1}`, `{"ts":1714564800,"dev":true,"temp":1}`,
		`{"ts":1714564800,"dev":"a.b *>","env.t":3,"t":4}`, `{"ts":1714564800,"dev":"x","env":{"t":3}}`,
		`{"ts":1714564800000,"temp":true}`, `{"ts":1714564800000,"temp":"x"}`, `{"ts":null,"temp":1}`,
		`{"temp":1}`, `{"ts":true}`, `{"ts":99999999999999999999}`, `{"ts":-1e300}`, `{"ts":9e18,"temp":1}`,
		`{"ts":1714571000000,"temp":1}`, `{"ts":1714500000000,"temp":1}`, `{"ts":1714564800,"time":5}`,
		`{"ts":1714564800000,"temp":NaN,"hum":-Infinity}`, `{"ts":1714564800000,"temp":"NaN","hum":"inf"}`,
		`{"ts":1714564800000,"temp":0x10}`, `{"ts":1714564800000,"temp":"0x10"}`, `{"ts":1714564800000,"temp":"1_0"}`,
		` {"ts":1714564800000,"temp":1} ` + "\x00", "\xef\xbb\xbf{\"ts\":1714564800000}", `{}`, `{"":1,"ts":1714564800000}`,
		`{"ts":1714564800000,"temp":1,}`, `{"ts":1714564800000,"temp":1}x`, `[{"ts":1714564800000,"temp":1}]`,
		`{"ts":1714564800000,"temp":"a\"b"}`, `{"ts":1714564800000,"tem\u0070":5}`, `{"ts":1714564800000,"temp":01}`,
	}
	ds := flatDecoders(t)
	for _, d := range ds {
		for _, p := range payloads {
			checkFlatSame(t, d, []byte(p))
		}
	}
	// The comparison is not vacuous: the usual payloads take the fast path.
	for i, p := range map[int]string{0: payloads[0], 1: payloads[1], 2: `{"ts":1714564800,"dev":"a.b *>","env.t":3,"t":4}`, 4: payloads[3]} {
		text, _, _ := ds[i].prepare([]byte(p))
		if !ds[i].fillFlat(pipeline.NewRecord("s/dev1/x", []byte(p), time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), nil), text, nil) {
			t.Errorf("decoder %d: %s did not take the fast path", i, p)
		}
	}
}

// FuzzFillFlat: for any payload, the fast path and the general path give the same
// records. Run it with go test -run '^$' -fuzz FuzzFillFlat ./operators.
func FuzzFillFlat(f *testing.F) {
	for _, s := range []string{`{"ts":1714564800000,"temp":21.5,"hum":40,"pres":null}`, `{"ts":1714564800,"dev":"a","env.t":"3","t":4}`,
		`{"ts":1714564800000,"temp":1,"temp":true}`, `{"time":1714564800000000000,"ts":"x","temp":-1.5e3}`} {
		f.Add([]byte(s))
	}
	ds := flatDecoders(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, d := range ds {
			checkFlatSame(t, d, payload)
		}
	})
}
