package operators

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/vmihailenco/msgpack/v5"
)

// hostileBase is the pipeline file the hostile payloads run through: fields temp (°C, a
// DS18B20 probe: sentinels 85 and -127) and hum (%, range 0–100, logger sentinel -999).
// A case's decode line replaces "{decode}".
const hostileBase = `site: s1
fields: [temp, hum]
input: {type: test}
store: {type: test}
summarize: {type: tumbling}
pipeline:
  - {decode}
  - type: clean
    ranges: {hum: [0, 100]}
    sentinels: {temp: [85, -127], hum: [-999]}
`

// hostileOutcome is what one record looks like after decode → clean: its dead-letter
// reason, or its device, event time and values (NaN = missing).
type hostileOutcome struct {
	dead   string
	device string
	time   time.Time
	values []float64
}

// t0 is 2024-05-01T11:00:00Z (epoch 1714561200 s), an hour before the test arrival time.
var t0 = time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)

func live(vals ...float64) hostileOutcome {
	return hostileOutcome{device: "d1", time: t0, values: vals}
}

func dead(reason string) hostileOutcome { return hostileOutcome{dead: reason} }

func mp(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostilePayloads runs messy real-world payloads through decode and clean, built
// from YAML, and checks each output record exactly. decode and clean keep no state
// between messages, so the rows of a sequence (a field whose type changes) are
// consecutive messages of one sensor.
func TestHostilePayloads(t *testing.T) {
	nan := math.NaN()
	const ts = `"ts":1714561200`
	js := func(body string) []byte { return []byte(`{` + ts + `,` + body + `}`) }
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ns := int64(1714561200123456789)
	cases := []struct {
		name    string
		decode  string // the decode entry of the pipeline
		payload []byte
		want    []hostileOutcome
	}{
		// Numbers and types.
		{"plain", "", js(`"temp":21.5,"hum":40`), []hostileOutcome{live(21.5, 40)}},
		{"number as string", "", js(`"temp":"23.5","hum":" 40 "`), []hostileOutcome{live(23.5, 40)}},
		{"type change 1/3: number", "", js(`"temp":23`), []hostileOutcome{live(23, nan)}},
		{"type change 2/3: string", "", js(`"temp":"23.5"`), []hostileOutcome{live(23.5, nan)}},
		{"type change 3/3: boolean", "", js(`"temp":true`), []hostileOutcome{dead(`decode: field "temp": true is not a number`)}},
		{"text value", "", js(`"temp":"warm"`), []hostileOutcome{dead(`decode: field "temp": "warm" is not a number`)}},
		{"null field", "", js(`"temp":null,"hum":40`), []hostileOutcome{live(nan, 40)}},
		{"missing field", "", js(`"hum":40`), []hostileOutcome{live(nan, 40)}},
		{"every field null", "", js(`"temp":null,"hum":null`), []hostileOutcome{dead("clean: every field missing")}},
		// Non-finite values never get past decode as numbers.
		{"NaN literal", "", js(`"temp":NaN,"hum":40`), []hostileOutcome{live(nan, 40)}},
		{"-Infinity literal", "", js(`"temp":-Infinity,"hum":Infinity`), []hostileOutcome{dead("clean: every field missing")}},
		{"printf nan and -inf", "", js(`"temp":nan,"hum":-inf`), []hostileOutcome{dead("clean: every field missing")}},
		{"NaN inside a string is text", "", js(`"note":"NaN, Infinity","temp":1`), []hostileOutcome{live(1, nan)}},
		{"NaN literal, strict_json", "{type: decode, strict_json: true}", js(`"temp":NaN`),
			[]hostileOutcome{dead("decode: invalid JSON: invalid character 'N' looking for beginning of value")}},
		{"NaN and Infinity strings", "", js(`"temp":"NaN","hum":"Infinity"`), []hostileOutcome{dead("clean: every field missing")}},
		{"msgpack NaN and +Inf", "", mp(t, map[string]any{"ts": 1714561200, "temp": math.NaN(), "hum": math.Inf(1)}),
			[]hostileOutcome{dead("clean: every field missing")}},
		// Sentinels and physical ranges.
		{"DS18B20 power-on 85", "", js(`"temp":85,"hum":40`), []hostileOutcome{live(nan, 40)}},
		{"DS18B20 disconnected -127", "", js(`"temp":-127,"hum":40`), []hostileOutcome{live(nan, 40)}},
		{"logger -999", "", js(`"temp":21,"hum":-999`), []hostileOutcome{live(21, nan)}},
		{"near a sentinel is a value", "", js(`"temp":84.9375,"hum":40`), []hostileOutcome{live(84.9375, 40)}},
		{"sentinel as a string", "", js(`"temp":"-127","hum":40`), []hostileOutcome{live(nan, 40)}},
		{"above the range", "", js(`"temp":21,"hum":100.5`), []hostileOutcome{live(21, nan)}},
		{"range bounds are inclusive", "", js(`"temp":21,"hum":100`), []hostileOutcome{live(21, 100)}},
		// Nested objects.
		{"field path", "{type: decode, map: {temp: sensor.readings.t}}", js(`"sensor":{"readings":{"t":19.25}},"hum":40`), []hostileOutcome{live(19.25, 40)}},
		{"literal dotted key wins", "{type: decode, map: {temp: sensor.readings.t}}", js(`"sensor.readings.t":1,"sensor":{"readings":{"t":2}}`), []hostileOutcome{live(1, nan)}},
		{"path through a number", "{type: decode, map: {temp: sensor.readings.t}}", js(`"sensor":5,"hum":40`), []hostileOutcome{live(nan, 40)}},
		{"time and device paths", "{type: decode, device: field:meta.id, time_field: meta.ts}", []byte(`{"meta":{"id":"d1","ts":1714561200},"temp":3}`),
			[]hostileOutcome{live(3, nan)}},
		// Arrays of readings.
		{"array", "", []byte(`[{` + ts + `,"temp":1},{"ts":1714561201,"temp":2}]`),
			[]hostileOutcome{live(1, nan), {device: "d1", time: t0.Add(time.Second), values: []float64{2, nan}}}},
		{"array with a bad element", "", []byte(`[{` + ts + `,"temp":1},"x",{` + ts + `,"temp":85}]`),
			[]hostileOutcome{live(1, nan), dead("decode: array element 1 is a string, not an object"), dead("clean: every field missing")}},
		// Framing.
		{"trailing NUL", "", append(js(`"temp":1`), 0), []hostileOutcome{live(1, nan)}},
		{"UTF-8 BOM", "", append([]byte("\xef\xbb\xbf"), js(`"temp":1`)...), []hostileOutcome{live(1, nan)}},
		{"BOM, CRLF and NULs", "", []byte("\xef\xbb\xbf" + string(js(`"temp":1`)) + "\r\n\x00\x00"), []hostileOutcome{live(1, nan)}},
		{"invalid UTF-8 in a string", "", js(`"note":"caf` + "\xe9" + `","temp":1`), []hostileOutcome{dead("decode: invalid UTF-8 in JSON at byte 28")}},
		{"truncated JSON", "", []byte(`{` + ts + `,"temp":2`), []hostileOutcome{dead("decode: invalid JSON: unexpected EOF")}},
		{"empty", "", nil, []hostileOutcome{dead("decode: empty payload")}},
		{"only NUL", "", []byte{0}, []hostileOutcome{dead("decode: empty payload")}},
		{"only a BOM", "", []byte("\xef\xbb\xbf"), []hostileOutcome{dead("decode: empty payload")}},
		{"over max_payload", "{type: decode, max_payload: 32}", js(`"temp":1,"hum":2`), []hostileOutcome{dead("decode: payload of 34 bytes exceeds max_payload 32")}},
		// msgpack types.
		{"msgpack integers for floats", "", mp(t, map[string]any{"ts": int64(1714561200), "temp": int8(-3), "hum": uint16(40)}), []hostileOutcome{live(-3, 40)}},
		{"msgpack float time", "", mp(t, map[string]any{"ts": 1714561200.5, "temp": float32(1.5)}),
			[]hostileOutcome{{device: "d1", time: t0.Add(500 * time.Millisecond), values: []float64{1.5, nan}}}},
		{"msgpack timestamp", "", mp(t, map[string]any{"ts": t0.Add(7), "temp": 1}), []hostileOutcome{{device: "d1", time: t0.Add(7), values: []float64{1, nan}}}},
		{"msgpack whole float device", "{type: decode, device: field:id}", mp(t, map[string]any{"id": 42.0, "ts": 1714561200, "temp": 1}),
			[]hostileOutcome{{device: "42", time: t0, values: []float64{1, nan}}}},
		{"msgpack invalid UTF-8 device", "{type: decode, device: field:id}", mp(t, map[string]any{"id": "d\xff", "ts": 1714561200, "temp": 1}),
			[]hostileOutcome{dead(`decode: device field "id" is not valid UTF-8`)}},
		// 64-bit integers keep every digit.
		{"JSON ns time", "", []byte(`{"ts":1714561200123456789,"temp":1}`), []hostileOutcome{{device: "d1", time: time.Unix(0, ns).UTC(), values: []float64{1, nan}}}},
		{"msgpack ns time", "", mp(t, map[string]any{"ts": ns, "temp": 1}), []hostileOutcome{{device: "d1", time: time.Unix(0, ns).UTC(), values: []float64{1, nan}}}},
		{"JSON 2^53+1 device", "{type: decode, device: field:id}", []byte(`{"id":9007199254740993,` + ts + `,"temp":1}`),
			[]hostileOutcome{{device: "9007199254740993", time: t0, values: []float64{1, nan}}}},
		{"msgpack uint64 device", "{type: decode, device: field:id}", mp(t, map[string]any{"id": uint64(math.MaxUint64), "ts": 1714561200, "temp": 1}),
			[]hostileOutcome{{device: "18446744073709551615", time: t0, values: []float64{1, nan}}}},
		// Event times.
		{"epoch ms", "", []byte(`{"ts":1714561200250,"temp":1}`), []hostileOutcome{{device: "d1", time: t0.Add(250 * time.Millisecond), values: []float64{1, nan}}}},
		{"epoch µs", "", []byte(`{"ts":1714561200000250,"temp":1}`), []hostileOutcome{{device: "d1", time: t0.Add(250 * time.Microsecond), values: []float64{1, nan}}}},
		{"configured unit ms", "{type: decode, time_unit: ms}", []byte(`{"ts":1714561200000,"temp":1}`), []hostileOutcome{live(1, nan)}},
		{"RFC 3339", "", []byte(`{"ts":"2024-05-01T13:00:00+02:00","temp":1}`), []hostileOutcome{live(1, nan)}},
		{"RFC 3339 offset without colon", "", []byte(`{"ts":"2024-05-01T13:00:00.5+0200","temp":1}`),
			[]hostileOutcome{{device: "d1", time: t0.Add(500 * time.Millisecond), values: []float64{1, nan}}}},
		{"RFC 3339 with a space", "", []byte(`{"ts":"2024-05-01 11:00:00Z","temp":1}`), []hostileOutcome{live(1, nan)}},
		{"zoneless is UTC", "", []byte(`{"ts":"2024-05-01T11:00:00","temp":1}`), []hostileOutcome{live(1, nan)}},
		{"zoneless in time_zone", "{type: decode, time_zone: Europe/Berlin}", []byte(`{"ts":"2024-05-01T13:00:00","temp":1}`), []hostileOutcome{live(1, nan)}},
		{"time_zone does not move offsets", "{type: decode, time_zone: Europe/Berlin}", []byte(`{"ts":"2024-05-01T11:00:00Z","temp":1}`), []hostileOutcome{live(1, nan)}},
		{"bad time", "", []byte(`{"ts":"May 1st","temp":1}`), []hostileOutcome{dead(`decode: bad timestamp "ts": "May 1st" is not an RFC 3339 time`)}},
	}
	if got := time.Date(2024, 5, 1, 13, 0, 0, 0, berlin); !got.Equal(t0) {
		t.Fatalf("Europe/Berlin: %v, want %v", got, t0) // CEST, UTC+2
	}
	arrival := t0.Add(time.Hour)
	for _, tc := range cases {
		dec, clean := buildHostile(t, or(tc.decode, "type: decode"))
		got := runOp(t, clean, runOp(t, dec, pipeline.NewRecord("s/d1", tc.payload, arrival, nil))...)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d records, want %d", tc.name, len(got), len(tc.want))
			continue
		}
		for i, w := range tc.want {
			r := got[i]
			if r.DeadLetter != w.dead {
				t.Errorf("%s [%d]: dead letter %q, want %q", tc.name, i, r.DeadLetter, w.dead)
				continue
			}
			if w.dead != "" {
				continue
			}
			if r.Device != w.device || !r.Time.Equal(w.time) || r.Time.Location() != time.UTC || !sameFloats(r.Values, w.values) {
				t.Errorf("%s [%d]: device %q time %v values %v, want %q %v %v", tc.name, i, r.Device, r.Time, r.Values, w.device, w.time, w.values)
			}
		}
	}
}

// buildHostile builds decode (the YAML entry op) and clean from hostileBase.
func buildHostile(t *testing.T, op string) (pipeline.Operator, pipeline.Operator) {
	t.Helper()
	cfg, err := pipeline.Parse("hostile.yaml", []byte(strings.Replace(hostileBase, "{decode}", op, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var ops []pipeline.Operator
	for _, c := range cfg.Pipeline {
		v, err := c.Spec.Build(c, &pipeline.Env{Fields: cfg.Fields()})
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, v.(pipeline.Operator))
	}
	return ops[0], ops[1]
}
