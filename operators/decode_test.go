package operators

import (
	"bytes"
	"crypto/sha256"
	"fmt"
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
		{`1700000000000`, UnitUs, time.UnixMicro(1700000000000).UTC()},
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
		{"value beyond float64", dflt, "s/a", `{"ts":1,"temp":1e999}`, `decode: field "temp": 1e999 is out of range for float64`},
		{"string beyond float64", dflt, "s/a", `{"ts":1,"hum":" -1e999"}`, `decode: field "hum": " -1e999" is out of range for float64`},
		{"long number beyond float64", dflt, "s/a", `{"ts":1,"pres":1` + strings.Repeat("0", 400) + `}`,
			`decode: field "pres": 10000000000000000000000000000000… is out of range for float64`},
		{"JSON number beyond float64", DecodeOptions{Format: FormatJSON}, "s/a", `1e999`, "decode: payload is a number, not an object"},
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

// TestDecodeDeadLetterKeepsTopicDevice: with device topic:N the device is known before
// the payload is parsed, so an unparseable or oversized payload is still a dead letter
// of its device (the store keeps it with the dead letter).
func TestDecodeDeadLetterKeepsTopicDevice(t *testing.T) {
	for _, tc := range []struct {
		name, payload, want string
	}{
		{"invalid JSON", `{"ts": 1`, "decode: invalid JSON: "},
		{"invalid msgpack", "\xc1", "decode: invalid msgpack: "},
		{"empty", "", "decode: empty payload"},
		{"too large", `{"ts": 1, "temp": 21.5}`, "decode: payload of 23 bytes exceeds max_payload 16"},
		{"not an object", `[1]`, "decode: array element 0 is a number, not an object"},
	} {
		r := decodeOne(t, newDecode(t, DecodeOptions{MaxPayload: 16}), "sensors/dev-7/reading", []byte(tc.payload))
		if !strings.HasPrefix(r.DeadLetter, tc.want) || r.Device != "dev-7" || !r.Time.IsZero() {
			t.Errorf("%s: reason %q device %q time %v, want %q…, dev-7 and no time", tc.name, r.DeadLetter, r.Device, r.Time, tc.want)
		}
	}
	// From a payload field, an unparseable payload has no device.
	r := decodeOne(t, newDecode(t, DecodeOptions{Device: "field:id"}), "sensors/dev-7/reading", []byte(`{"id": "x", `))
	if !r.Dead() || r.Device != "" {
		t.Errorf("field device: reason %q device %q, want a dead letter without device", r.DeadLetter, r.Device)
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
		{DecodeOptions{TimeZone: "Mars/Olympus_Mons"}, fieldTimeZone},
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

// hostileMsgpack are payloads whose headers made msgpack/v5 allocate or recurse without
// bound (a fatal, unrecoverable error that killed the process at every redelivery).
var hostileMsgpack = []struct {
	name    string
	payload []byte
	want    string
}{
	{"array32 of 4 billion", []byte("\xdd\xff\xff\xff\xff"), "decode: invalid msgpack: 4294967295 elements declared at byte 0 exceed the 0 bytes left"},
	{"map32 of 4 billion", []byte("\xdf\xff\xff\xff\xff"), "decode: invalid msgpack: 8589934590 elements declared at byte 0 exceed the 0 bytes left"},
	{"4 MB of nested arrays", bytes.Repeat([]byte{0x91}, 4<<20), "decode: invalid msgpack: nesting deeper than 64 at byte 64"},
	{"str32 of 4 GB", []byte("\xdb\xff\xff\xff\xffab"), "decode: invalid msgpack: length 4294967295 at byte 0 exceeds the 2 bytes left"},
	{"array16 in a map", []byte("\x81\xa1a\xdc\xff\xff\x01"), "decode: invalid msgpack: 65535 elements declared at byte 3 exceed the 1 bytes left"},
}

func TestDecodeMsgpackHostileHeaders(t *testing.T) {
	d := newDecode(t, DecodeOptions{}) // no max_payload: the structure check alone must hold
	for _, tc := range hostileMsgpack {
		r := decodeOne(t, d, "s/a", tc.payload)
		if r.DeadLetter != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.name, r.DeadLetter, tc.want)
		}
	}
}

// TestDecodeMsgpackNestingLimit: 64 nested levels pass the structure check (and fail as
// not an object), 65 do not.
func TestDecodeMsgpackNestingLimit(t *testing.T) {
	d := newDecode(t, DecodeOptions{})
	ok := append(bytes.Repeat([]byte{0x91}, 63), 0x80) // 63 arrays around an empty map
	if r := decodeOne(t, d, "s/a", ok); r.DeadLetter != "decode: array element 0 is an array, not an object" {
		t.Errorf("64 levels: reason %q", r.DeadLetter)
	}
	deep := append(bytes.Repeat([]byte{0x91}, 64), 0x80)
	if r := decodeOne(t, d, "s/a", deep); r.DeadLetter != "decode: invalid msgpack: nesting deeper than 64 at byte 64" {
		t.Errorf("65 levels: reason %q", r.DeadLetter)
	}
}

// TestDecodeJSONDeepNesting: encoding/json stops at 10000 nested levels with an error,
// so 4 MB of '[' is a dead letter, not a stack overflow.
func TestDecodeJSONDeepNesting(t *testing.T) {
	r := decodeOne(t, newDecode(t, DecodeOptions{}), "s/a", bytes.Repeat([]byte{'['}, 4<<20))
	if want := "decode: invalid JSON: invalid character '[' exceeded max depth"; r.DeadLetter != want {
		t.Errorf("reason %q, want %q", r.DeadLetter, want)
	}
}

func TestDecodeMaxPayload(t *testing.T) {
	payload := []byte(`{"ts":1700000000,"temp":1}`) // 26 bytes
	if r := decodeOne(t, newDecode(t, DecodeOptions{MaxPayload: 25}), "s/a", payload); r.DeadLetter != "decode: payload of 26 bytes exceeds max_payload 25" {
		t.Errorf("over the limit: reason %q", r.DeadLetter)
	}
	for _, limit := range []int{26, 0} {
		if r := decodeOne(t, newDecode(t, DecodeOptions{MaxPayload: limit}), "s/a", payload); r.Dead() || r.Values[0] != 1 {
			t.Errorf("max_payload %d: dead %q values %v", limit, r.DeadLetter, r.Values)
		}
	}
	// The registered default (256 KiB) rejects the 4 MB bombs before any parsing, and their
	// dead letters keep only the first KiB with the full size and SHA-256.
	d := buildDecode(t, "{type: decode}")
	for _, p := range [][]byte{bytes.Repeat([]byte{0x91}, 4<<20), bytes.Repeat([]byte{'['}, 4<<20)} {
		r := decodeOne(t, d, "s/a", p)
		if r.DeadLetter != "decode: payload of 4194304 bytes exceeds max_payload 262144" {
			t.Errorf("default limit: reason %q", r.DeadLetter)
		}
		want := fmt.Sprintf("%s…[4194304 bytes; sha256 %x]", p[:1024], sha256.Sum256(p))
		if string(r.Payload) != want {
			t.Errorf("kept payload of %d bytes %q…, want %d bytes %q…", len(r.Payload), r.Payload[1020:min(len(r.Payload), 1060)], len(want), want[1020:1060])
		}
	}
}

// buildDecode builds a decode operator from a config file's pipeline entry op.
func buildDecode(t *testing.T, op string) *Decode {
	t.Helper()
	cfg, err := pipeline.Parse("p.yaml", []byte(strings.Split(testConfig, "pipeline:\n")[0]+"pipeline:\n  - "+op+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Pipeline[0]
	v, err := c.Spec.Build(c, &pipeline.Env{Fields: decodeFields})
	if err != nil {
		t.Fatal(err)
	}
	return v.(*Decode)
}

func TestDecodeRegisteredDefaultsAndErrors(t *testing.T) {
	d := buildDecode(t, "{type: decode}")
	if d.maxPayload != 262144 || d.maxFuture != time.Hour || d.maxPast != 0 {
		t.Errorf("defaults: max_payload %d max_future %v max_past %v, want 262144 1h 0", d.maxPayload, d.maxFuture, d.maxPast)
	}
	d = buildDecode(t, "{type: decode, max_payload: 0, max_future: 0s, max_past: 48h}")
	if d.maxPayload != 0 || d.maxFuture != 0 || d.maxPast != 48*time.Hour {
		t.Errorf("set: max_payload %d max_future %v max_past %v, want 0 0 48h", d.maxPayload, d.maxFuture, d.maxPast)
	}
	for _, tc := range []struct {
		opts  DecodeOptions
		field string
	}{
		{DecodeOptions{MaxPayload: -1}, fieldMaxPayload},
		{DecodeOptions{MaxFuture: -time.Second}, fieldMaxFuture},
		{DecodeOptions{MaxPast: -time.Second}, fieldMaxPast},
	} {
		_, err := NewDecode(decodeFields, tc.opts)
		if oe, ok := err.(*OptionError); !ok || oe.Field != tc.field {
			t.Errorf("%+v: error %v, want an OptionError on %s", tc.opts, err, tc.field)
		}
	}
}

// TestDecodeTimeOutsideInt64Nanoseconds: the store keys on int64 ns, where year 2300
// wrapped silently to 1715; such times are dead letters, with no Time (in no window).
func TestDecodeTimeOutsideInt64Nanoseconds(t *testing.T) {
	d := newDecode(t, DecodeOptions{})
	for _, tc := range []struct {
		ts, want string
	}{
		{`10413792000`, "decode: time 2300-01-01T00:00:00Z is outside the representable range (1678–2262)"},
		{`-10000000000`, "decode: time 1653-02-10T06:13:20Z is outside the representable range (1678–2262)"},
		{`"9999-12-31T23:59:59Z"`, "decode: time 9999-12-31T23:59:59Z is outside the representable range (1678–2262)"},
		{`"2262-04-11T23:47:16.854775808Z"`, "decode: time 2262-04-11T23:47:16.854775808Z is outside the representable range (1678–2262)"},
		{`"1677-09-21T00:12:43.145224191Z"`, "decode: time 1677-09-21T00:12:43.145224191Z is outside the representable range (1678–2262)"},
		{`1e300`, "decode: time 1e+300 ns is outside the representable range (1678–2262)"},
		{`"2262-04-11T23:47:16.854775807Z"`, ""},
		{`"1677-09-21T00:12:43.145224192Z"`, ""},
	} {
		r := decodeOne(t, d, "s/a", []byte(`{"ts":`+tc.ts+`,"temp":1}`))
		if r.DeadLetter != tc.want {
			t.Errorf("ts %s: reason %q, want %q", tc.ts, r.DeadLetter, tc.want)
			continue
		}
		if tc.want != "" && (!r.Time.IsZero() || r.Device != "a") {
			t.Errorf("ts %s: time %v device %q, want no time and device a", tc.ts, r.Time, r.Device)
		}
		if tc.want == "" && r.Time.UnixNano() != map[bool]int64{true: math.MaxInt64, false: math.MinInt64}[r.Time.Year() == 2262] {
			t.Errorf("ts %s: %d ns, want the int64 bound", tc.ts, r.Time.UnixNano())
		}
	}
	// A msgpack timestamp extension is checked too.
	payload, err := msgpack.Marshal(map[string]any{"ts": time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if r := decodeOne(t, d, "s/a", payload); r.DeadLetter != "decode: time 3000-01-01T00:00:00Z is outside the representable range (1678–2262)" {
		t.Errorf("msgpack timestamp: reason %q", r.DeadLetter)
	}
	// Seconds near ±2^63 overflowed time.Unix, and the reason named a wrapped time.
	ds := newDecode(t, DecodeOptions{TimeUnit: UnitS})
	if r := decodeOne(t, ds, "s/a", []byte(`{"ts":9223372036854775807}`)); r.DeadLetter != "decode: time 9223372036854775807 s is outside the representable range (1678–2262)" {
		t.Errorf("int64 max seconds: reason %q", r.DeadLetter)
	}
}

// TestDecodeMaxFuture: a reading stamped by a clock set in the future is a dead letter
// (it would hold the device's watermark there); historical replays stay accepted unless
// max_past is set. decodeOne's arrival time is 2024-05-01T12:00:00Z.
func TestDecodeMaxFuture(t *testing.T) {
	arrival := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		opts DecodeOptions
		ts   string
		want string
	}{
		{DecodeOptions{MaxFuture: time.Hour}, `"2024-05-01T13:00:00Z"`, ""},
		{DecodeOptions{MaxFuture: time.Hour}, `"2024-05-01T13:00:01Z"`, "decode: event time 2024-05-01T13:00:01Z is 1h0m1s after arrival (max_future 1h0m0s)"},
		{DecodeOptions{MaxFuture: time.Hour}, `"2100-01-01T00:00:00Z"`, "decode: event time 2100-01-01T00:00:00Z is 663300h0m0s after arrival (max_future 1h0m0s)"},
		{DecodeOptions{MaxFuture: time.Hour}, `"2004-02-28T00:00:00Z"`, ""}, // a replay of 2004 data
		{DecodeOptions{}, `"2100-01-01T00:00:00Z"`, ""},                     // 0: no limit
		{DecodeOptions{MaxPast: 24 * time.Hour}, `"2024-04-30T12:00:00Z"`, ""},
		{DecodeOptions{MaxPast: 24 * time.Hour}, `"2024-04-30T11:59:59Z"`, "decode: event time 2024-04-30T11:59:59Z is 24h0m1s before arrival (max_past 24h0m0s)"},
	} {
		r := decodeOne(t, newDecode(t, tc.opts), "s/a", []byte(`{"ts":`+tc.ts+`,"temp":1}`))
		if r.DeadLetter != tc.want || tc.want != "" && !r.Time.IsZero() {
			t.Errorf("%+v ts %s: reason %q time %v, want %q", tc.opts, tc.ts, r.DeadLetter, r.Time, tc.want)
		}
	}
	// time_from arrival ignores the payload's clock: the reading is at its arrival.
	d := newDecode(t, DecodeOptions{TimeFrom: TimeFromArrival, MaxFuture: time.Hour, MaxPast: time.Second})
	if r := decodeOne(t, d, "s/a", []byte(`{"ts":"2100-01-01T00:00:00Z","temp":1}`)); r.Dead() || !r.Time.Equal(arrival) {
		t.Errorf("time_from arrival: time %v dead %q, want %v", r.Time, r.DeadLetter, arrival)
	}
	// An unknown arrival time (zero Received) skips the arrival bounds.
	got := runOp(t, newDecode(t, DecodeOptions{MaxFuture: time.Hour}), pipeline.NewRecord("s/a", []byte(`{"ts":1700000000}`), time.Time{}, nil))
	if got[0].Dead() || got[0].Time.Unix() != 1700000000 {
		t.Errorf("zero arrival: time %v dead %q", got[0].Time, got[0].DeadLetter)
	}
}

// TestDecodeTimeZoneConfigError: an unknown time_zone is reported at its line.
func TestDecodeTimeZoneConfigError(t *testing.T) {
	cfg, err := pipeline.Parse("p.yaml", []byte(strings.Split(testConfig, "pipeline:\n")[0]+"pipeline:\n  - {type: decode, time_zone: Mars/Olympus_Mons}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Pipeline[0]
	_, err = c.Spec.Build(c, &pipeline.Env{Fields: decodeFields})
	if want := `p.yaml:7:31: pipeline decode: time_zone: "Mars/Olympus_Mons" is not an IANA time zone (e.g. UTC, Europe/Berlin)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
