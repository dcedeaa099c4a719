package operators

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/vmihailenco/msgpack/v5"
)

var decodeFields = []string{"temp", "hum", "pres"}

func newDecode(t *testing.T, o DecodeOptions) *Decode {
	t.Helper()
	d, err := NewDecode(decodeFields, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func decodeOne(t *testing.T, d *Decode, topic string, payload []byte) *pipeline.Record {
	t.Helper()
	got := runOp(t, d, pipeline.NewRecord(topic, payload, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), nil))
	if len(got) != 1 {
		t.Fatalf("%s: got %d records, want 1", payload, len(got))
	}
	return got[0]
}

func TestDecodeJSONDeviceFromTopic(t *testing.T) {
	d := newDecode(t, DecodeOptions{})
	r := decodeOne(t, d, "sensors/dev-1/data", []byte(` {"ts": 1700000000, "temp": 21.5, "hum": "40.5", "pres": null}`))
	if r.Dead() {
		t.Fatal(r.DeadLetter)
	}
	if r.Device != "dev-1" {
		t.Errorf("device %q, want dev-1", r.Device)
	}
	if want := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC); !r.Time.Equal(want) || r.Time.Location() != time.UTC {
		t.Errorf("time %v, want %v", r.Time, want)
	}
	if want := []float64{21.5, 40.5, math.NaN()}; !sameFloats(r.Values, want) {
		t.Errorf("values %v, want %v", r.Values, want)
	}
}

func TestDecodeTimestamps(t *testing.T) {
	base := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC) // 1700000000 s
	for _, tc := range []struct {
		ts   string
		unit string
		want time.Time
	}{
		{`1700000000`, "", base},
		{`1700000000.25`, "", base.Add(250 * time.Millisecond)},
		{`1700000000123`, "", base.Add(123 * time.Millisecond)},
		{`1700000000123456`, "", base.Add(123456 * time.Microsecond)},
		{`1700000000123456789`, "", base.Add(123456789)},
		{`"2023-11-14T23:13:20.5+01:00"`, "", base.Add(500 * time.Millisecond)},
		{`"2023-11-14T22:13:20Z"`, UnitRFC3339, base},
		{`"1700000000123"`, "", base.Add(123 * time.Millisecond)},
		{`1700000000`, UnitMs, time.UnixMilli(1700000000).UTC()},
		{`1700000000000`, UnitS, time.Unix(1700000000000, 0).UTC()},
	} {
		d := newDecode(t, DecodeOptions{TimeUnit: tc.unit})
		r := decodeOne(t, d, "s/x", []byte(`{"ts":`+tc.ts+`,"temp":1}`))
		if r.Dead() || !r.Time.Equal(tc.want) {
			t.Errorf("ts %s unit %q: time %v (dead %q), want %v", tc.ts, tc.unit, r.Time, r.DeadLetter, tc.want)
		}
	}
	arrival := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	r := decodeOne(t, newDecode(t, DecodeOptions{TimeFrom: TimeFromArrival}), "s/x", []byte(`{"temp":1}`))
	if !r.Time.Equal(arrival) {
		t.Errorf("time_from arrival: %v, want %v", r.Time, arrival)
	}
}

func TestDecodeMsgpackDeviceFromField(t *testing.T) {
	d := newDecode(t, DecodeOptions{Device: "field:id", Map: map[string]string{"temp": "t"}})
	payload, err := msgpack.Marshal(map[string]any{"id": "pump-7", "ts": int64(1700000000000), "t": float32(20.25), "hum": uint8(55), "pres": nil})
	if err != nil {
		t.Fatal(err)
	}
	r := decodeOne(t, d, "plant", payload)
	if r.Dead() {
		t.Fatal(r.DeadLetter)
	}
	if r.Device != "pump-7" || !r.Time.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("device %q time %v", r.Device, r.Time)
	}
	if want := []float64{20.25, 55, math.NaN()}; !sameFloats(r.Values, want) {
		t.Errorf("values %v, want %v", r.Values, want)
	}
	// A msgpack timestamp extension is an event time as it is.
	ts := time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)
	payload, _ = msgpack.Marshal(map[string]any{"id": "pump-7", "ts": ts, "hum": -3})
	if r := decodeOne(t, d, "plant", payload); !r.Time.Equal(ts) || !sameFloats(r.Values, []float64{math.NaN(), -3, math.NaN()}) {
		t.Errorf("msgpack timestamp: time %v values %v dead %q", r.Time, r.Values, r.DeadLetter)
	}
}

func TestDecodeArraySplitsWithOneAck(t *testing.T) {
	acked := 0
	rec := pipeline.NewRecord("s/multi", []byte(`[{"ts":1,"temp":1},{"ts":2,"temp":2},{"ts":3,"temp":3}]`), time.Now(), pipeline.NewAck(func() { acked++ }))
	got := runOp(t, newDecode(t, DecodeOptions{}), rec)
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3", len(got))
	}
	for i, r := range got {
		if r.Dead() || r.Device != "multi" || r.Values[0] != float64(i+1) || r.Time.Unix() != int64(i+1) {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	got[0].Done()
	got[2].Done()
	if acked != 0 {
		t.Fatalf("acked after 2 of 3 done")
	}
	got[1].Done()
	if acked != 1 {
		t.Fatalf("acked %d times after all done, want 1", acked)
	}
}

func TestDecodeDeadLetters(t *testing.T) {
	dflt := DecodeOptions{}
	for _, tc := range []struct {
		name    string
		opts    DecodeOptions
		topic   string
		payload string
		want    string // the reason, or its prefix when it ends with "…"
	}{
		{"empty", dflt, "s/a", "  ", "decode: empty payload"},
		{"truncated JSON", dflt, "s/a", `{"ts": 1`, "decode: invalid JSON: …"},
		{"trailing JSON", dflt, "s/a", `{"ts": 1} {}`, "decode: invalid JSON: trailing data after the value"},
		{"JSON number", DecodeOptions{Format: FormatJSON}, "s/a", `42`, "decode: payload is a number, not an object"},
		{"JSON null", DecodeOptions{Format: FormatJSON}, "s/a", `null`, "decode: payload is null, not an object"},
		{"empty array", dflt, "s/a", `[]`, "decode: empty array"},
		{"array of numbers", dflt, "s/a", `[1]`, "decode: array element 0 is a number, not an object"},
		{"bad msgpack", dflt, "s/a", "\xc1", "decode: invalid msgpack: …"},
		{"msgpack string", dflt, "s/a", "\xa2hi", "decode: payload is a string, not an object"},
		{"msgpack trailing", dflt, "s/a", "\x80\x01", "decode: invalid msgpack: 1 trailing bytes after the value"},
		{"no topic segment", dflt, "sensors", `{"ts":1}`, `decode: missing device: topic "sensors" has no segment 1`},
		{"empty topic segment", dflt, "sensors//x", `{"ts":1}`, `decode: missing device: topic "sensors//x" has an empty segment 1`},
		{"no device field", DecodeOptions{Device: "field:id"}, "s", `{"ts":1}`, `decode: missing device field "id"`},
		{"device not a string", DecodeOptions{Device: "field:id"}, "s", `{"id":[1],"ts":1}`, `decode: device field "id" is an array, not a string`},
		{"no timestamp", dflt, "s/a", `{"temp":1}`, `decode: missing timestamp field "ts"`},
		{"null timestamp", dflt, "s/a", `{"ts":null}`, `decode: missing timestamp field "ts"`},
		{"bad RFC 3339", dflt, "s/a", `{"ts":"yesterday"}`, `decode: bad timestamp "ts": "yesterday" is not an RFC 3339 time`},
		{"boolean timestamp", dflt, "s/a", `{"ts":true}`, `decode: bad timestamp "ts": true is not a number or an RFC 3339 string`},
		{"number for rfc3339", DecodeOptions{TimeUnit: UnitRFC3339}, "s/a", `{"ts":1}`, `decode: bad timestamp "ts": want an RFC 3339 string, got a number`},
		{"text value", dflt, "s/a", `{"ts":1,"temp":"warm"}`, `decode: field "temp": "warm" is not a number`},
		{"object value", dflt, "s/a", `{"ts":1,"hum":{"v":1}}`, `decode: field "hum": an object is not a number`},
		{"boolean value", dflt, "s/a", `{"ts":1,"pres":false}`, `decode: field "pres": false is not a number`},
	} {
		got := runOp(t, newDecode(t, tc.opts), pipeline.NewRecord(tc.topic, []byte(tc.payload), time.Now(), nil))
		if len(got) != 1 {
			t.Errorf("%s: %d records, want 1", tc.name, len(got))
			continue
		}
		reason := got[0].DeadLetter
		if prefix, ok := strings.CutSuffix(tc.want, "…"); ok && strings.HasPrefix(reason, prefix) && len(reason) > len(prefix) {
			continue
		}
		if reason != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.name, reason, tc.want)
		}
	}
	// A reading failing on a value keeps its device and time, so its window counts it.
	r := decodeOne(t, newDecode(t, dflt), "s/a", []byte(`{"ts":60,"temp":"warm"}`))
	if r.Device != "a" || r.Time.Unix() != 60 {
		t.Errorf("dead reading device %q time %v, want a and 60 s", r.Device, r.Time)
	}
}

func TestDecodeOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts  DecodeOptions
		field string
	}{
		{DecodeOptions{Device: "topic:-1"}, fieldDevice},
		{DecodeOptions{Device: "field:"}, fieldDevice},
		{DecodeOptions{Map: map[string]string{"wind": "w"}}, fieldMap},
		{DecodeOptions{TimeUnit: "h"}, fieldTimeUnit},
		{DecodeOptions{Format: "xml"}, fieldFormat},
	} {
		_, err := NewDecode(decodeFields, tc.opts)
		oe, ok := err.(*OptionError)
		if !ok || oe.Field != tc.field {
			t.Errorf("%+v: error %v, want an OptionError on %s", tc.opts, err, tc.field)
		}
	}
}

func TestDecodePassesDeadRecords(t *testing.T) {
	r := pipeline.NewRecord("s/a", []byte(`{"ts":1}`), time.Now(), nil).Fail("source: too large")
	got := runOp(t, newDecode(t, DecodeOptions{}), r)
	if len(got) != 1 || got[0].DeadLetter != "source: too large" || got[0].Device != "" {
		t.Errorf("dead record changed: %+v", got[0])
	}
}
