package operators

import (
	"bytes"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// FuzzDecode feeds arbitrary payloads to decode in every format (auto, json, msgpack)
// with the registered limits (max_payload 256 KiB, max_future 1 h), for the fields
// temp, hum, pres and for the fields t, v[3] (a vector field, which bare arrays fill):
// decode must not panic or crash, and every record it emits must be a dead letter or a
// reading with one value per field and an event time representable as int64 ns, at most
// max_future after its arrival. Run it with go test -run '^$' -fuzz FuzzDecode ./operators; crashers land
// in testdata/fuzz/FuzzDecode and run with every go test.
func FuzzDecode(f *testing.F) {
	for _, seed := range [][]byte{
		[]byte(`{"ts":1700000000,"temp":21.5,"hum":"40","pres":null}`),
		[]byte(`[{"ts":"2023-11-14T22:13:20Z","temp":1},{"ts":1700000000123,"hum":2},3]`),
		[]byte(`{"ts":1e300}`), []byte(`{"ts":"9999-12-31T23:59:59Z"}`), []byte("[[[[[[[[1]]]]]]]]"),
		[]byte("\x83\xa2ts\xce\x65\x53\xf1\x00\xa4temp\xcb\x40\x35\x80\x00\x00\x00\x00\x00\xa3hum\x01"),
		[]byte("\x91\x82\xa2ts\xd6\xff\x65\x53\xf1\x00\xa4pres\xc0"),
		[]byte("\xdd\xff\xff\xff\xff"), []byte("\xdf\xff\xff\xff\xff"), bytes.Repeat([]byte{0x91}, 100),
		[]byte("\xc7\x0c\xff\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00"),
		[]byte(`{"ts":1700000000,"t":1,"v":[1,null,"2"]}`), []byte(`[[1,2,3],{"v":[4,5]},[6]]`), []byte("\x93\x01\xcc\xff\xc0"),
	} {
		f.Add(seed)
	}
	arrival := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	vecFields, vectors, err := pipeline.ExpandFields([]string{"t", "v[3]"})
	if err != nil {
		f.Fatal(err)
	}
	var decoders []*Decode
	for _, format := range []string{FormatAuto, FormatJSON, FormatMsgpack} {
		for _, o := range []struct {
			fields  []string
			vectors []pipeline.Vector
		}{{decodeFields, nil}, {vecFields, vectors}} {
			d, err := NewDecode(o.fields, DecodeOptions{Format: format, MaxPayload: DefaultMaxPayload, MaxFuture: DefaultMaxFuture, Vectors: o.vectors})
			if err != nil {
				f.Fatal(err)
			}
			decoders = append(decoders, d)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, d := range decoders {
			out := d.decode(pipeline.NewRecord("s/dev", payload, arrival, nil))
			if len(out) == 0 {
				t.Fatalf("%s: no record out", d.format)
			}
			for i, r := range out {
				if r.Dead() {
					continue
				}
				if len(r.Values) != len(d.fields) || r.Time.IsZero() || r.Device != "dev" {
					t.Fatalf("%s: record %d: values %v time %v device %q", d.format, i, r.Values, r.Time, r.Device)
				}
				if r.Time.Before(minTime) || r.Time.After(maxTime) || r.Time.Sub(arrival) > DefaultMaxFuture {
					t.Fatalf("%s: record %d: time %v outside the int64 ns range or past max_future", d.format, i, r.Time)
				}
			}
		}
	})
}
