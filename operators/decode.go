package operators

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time_zone names resolve on gateways without /usr/share/zoneinfo
	"unicode/utf8"

	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/vmihailenco/msgpack/v5"
)

// Config field names and values of the decode operator.
const (
	typeDecode      = "decode"
	fieldFormat     = "format"
	fieldDevice     = "device"
	fieldTimeField  = "time_field"
	fieldTimeUnit   = "time_unit"
	fieldTimeFrom   = "time_from"
	fieldMap        = "map"
	fieldMaxPayload = "max_payload"
	fieldMaxFuture  = "max_future"
	fieldMaxPast    = "max_past"
	fieldTimeZone   = "time_zone"
	fieldStrictJSON = "strict_json"

	devicePrefixTopic = "topic:"
	devicePrefixField = "field:"
)

// Payload formats (DecodeOptions.Format, YAML `format`).
const (
	FormatAuto    = "auto"
	FormatJSON    = "json"
	FormatMsgpack = "msgpack"
)

// Timestamp units (DecodeOptions.TimeUnit, YAML `time_unit`): epoch seconds,
// milliseconds, microseconds, nanoseconds, or an RFC 3339 string.
const (
	UnitAuto    = "auto"
	UnitS       = "s"
	UnitMs      = "ms"
	UnitUs      = "us"
	UnitNs      = "ns"
	UnitRFC3339 = "rfc3339"
)

// Event-time sources (DecodeOptions.TimeFrom, YAML `time_from`).
const (
	TimeFromField   = "field"
	TimeFromArrival = "arrival"
)

// OversizedKept is how many leading bytes of a payload over max_payload its dead letter
// keeps: a flood of huge messages must not fill the database (nor push its readings out
// under a size limit).
const OversizedKept = 1 << 10

// oversizedPayload is what the dead letter of an oversized payload p keeps: its first
// OversizedKept bytes, then "…[N bytes; sha256 HEX]" (N the full length, HEX the SHA-256
// of all of p, FIPS 180-4), so that two different payloads never look like one
// redelivered dead letter and the original can still be matched.
func oversizedPayload(p []byte) []byte {
	sum := sha256.Sum256(p)
	out := append(make([]byte, 0, OversizedKept+100), p[:min(len(p), OversizedKept)]...)
	return fmt.Appendf(out, "…[%d bytes; sha256 %x]", len(p), sum)
}

// Defaults of the decode fields max_payload and max_future.
const (
	// DefaultMaxPayload is the default largest payload, in bytes (256 KiB).
	DefaultMaxPayload = 256 << 10
	// DefaultMaxFuture is how far after its arrival an event time may be by default.
	DefaultMaxFuture = time.Hour
)

// minTime and maxTime bound the event times representable as int64 ns since the Unix
// epoch (time.Time.UnixNano): 1677-09-21T00:12:43.145224192Z to
// 2262-04-11T23:47:16.854775807Z.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindOperator,
		Name:    typeDecode,
		Summary: "Decodes JSON or msgpack sensor payloads into readings: device id, event time, one value per field.",
		Fields: []pipeline.Field{
			{Name: fieldFormat, Type: pipeline.TypeString, Default: FormatAuto, Enum: []string{FormatAuto, FormatJSON, FormatMsgpack},
				Description: "Payload encoding; auto: a payload starting with '{' or '[' is JSON, anything else msgpack."},
			{Name: fieldDevice, Type: pipeline.TypeString, Default: "topic:1",
				Description: "Where the device id comes from: \"topic:N\" (segment N of the topic split on '/', 0-based) or \"field:NAME\" (a payload field)."},
			{Name: fieldTimeField, Type: pipeline.TypeString, Default: "ts", Description: "Payload field holding the event time."},
			{Name: fieldTimeUnit, Type: pipeline.TypeString, Default: UnitAuto, Enum: []string{UnitAuto, UnitS, UnitMs, UnitUs, UnitNs, UnitRFC3339},
				Description: "Unit of the event time; auto: a number below 1e11 is s, below 1e14 ms, below 1e17 µs, else ns; a string is RFC 3339 (an offset with or without its colon, +02:00 or +0200; none: a local time in time_zone)."},
			{Name: fieldTimeZone, Type: pipeline.TypeString, Default: "UTC",
				Description: "IANA time zone (e.g. Europe/Berlin) of event times written without an offset (\"2024-05-01T12:00:00\"); an unknown name is a config error."},
			{Name: fieldTimeFrom, Type: pipeline.TypeString, Default: TimeFromField, Enum: []string{TimeFromField, TimeFromArrival},
				Description: "field: event time from time_field; arrival: the time the message arrived (for sensors without a clock). A bare array payload has no time field and always takes its arrival time."},
			{Name: fieldMap, Type: pipeline.TypeStringMap,
				Description: "Pipeline field → payload key, for keys that differ from the field name (default: the key is the field name); a vector field name[N] is mapped by its name and its key holds an array of N numbers. A key may be a dotted path into nested objects (sensor.readings.t); a literal key containing the dots wins when present. time_field and device field:NAME take paths too."},
			{Name: fieldStrictJSON, Type: pipeline.TypeBool, Default: false,
				Description: "Reject the non-standard JSON literals NaN, Infinity, -Infinity (and nan, inf, -nan … as C's printf writes them) as invalid JSON; false: they are read as missing values."},
			{Name: fieldMaxPayload, Type: pipeline.TypeInt, Default: DefaultMaxPayload,
				Description: "Largest payload in bytes; a larger one is dead-lettered before parsing, keeping its first KiB, full size and SHA-256. 0: no limit."},
			{Name: fieldMaxFuture, Type: pipeline.TypeDuration, Default: DefaultMaxFuture,
				Description: "Dead-letter a reading whose event time is more than this after its arrival (a sensor clock set in the future would hold its windows' watermark). 0: no limit."},
			{Name: fieldMaxPast, Type: pipeline.TypeDuration, Default: time.Duration(0),
				Description: "Dead-letter a reading whose event time is more than this before its arrival. 0: no limit (replays of historical data)."},
		},
		Build: func(c *pipeline.Conf, env *pipeline.Env) (any, error) {
			d, err := NewDecode(env.Fields, DecodeOptions{
				Format:     c.String(fieldFormat),
				Device:     c.String(fieldDevice),
				TimeField:  c.String(fieldTimeField),
				TimeUnit:   c.String(fieldTimeUnit),
				TimeFrom:   c.String(fieldTimeFrom),
				Map:        c.StringMap(fieldMap),
				MaxPayload: c.Int(fieldMaxPayload),
				MaxFuture:  c.Duration(fieldMaxFuture),
				MaxPast:    c.Duration(fieldMaxPast),
				TimeZone:   c.String(fieldTimeZone),
				StrictJSON: c.Bool(fieldStrictJSON),
				Vectors:    env.Vectors,
			})
			if err != nil {
				return nil, confError(c, fieldDevice, err)
			}
			return d, nil
		},
	})
}

// DecodeOptions configure NewDecode; an empty string selects the field's default, and
// a zero limit (MaxPayload, MaxFuture, MaxPast) means no limit; the registered YAML
// defaults are DefaultMaxPayload, DefaultMaxFuture and no max_past.
type DecodeOptions struct {
	// Format is FormatAuto (default), FormatJSON or FormatMsgpack.
	Format string
	// Device is "topic:N" (default "topic:1") or "field:NAME".
	Device string
	// TimeField is the payload key of the event time (default "ts").
	TimeField string
	// TimeUnit is UnitAuto (default), UnitS, UnitMs, UnitUs, UnitNs or UnitRFC3339.
	TimeUnit string
	// TimeFrom is TimeFromField (default) or TimeFromArrival.
	TimeFrom string
	// Map maps a pipeline field to its payload key when they differ.
	Map map[string]string
	// MaxPayload is the largest payload in bytes (0: no limit, ≥ 0).
	MaxPayload int
	// MaxFuture and MaxPast bound how far after and before its arrival
	// (Record.Received) a reading's event time may be (0: no bound, ≥ 0).
	MaxFuture, MaxPast time.Duration
	// TimeZone is the IANA zone of event times without an offset (default "UTC").
	TimeZone string
	// StrictJSON rejects the literals NaN, Infinity … instead of reading them as missing.
	StrictJSON bool
	// Vectors are the pipeline's vector fields (pipeline.Env.Vectors): runs of fields
	// filled from one payload array each; nil = none.
	Vectors []pipeline.Vector
}

// Decode is the decode operator: it turns a raw JSON or msgpack payload into a reading
// (Record.Device, Time in UTC, Values with one entry per pipeline field, NaN when the
// key is missing or null or the value is not finite). A JSON payload may start with a
// UTF-8 byte-order mark and end with NUL bytes and whitespace, which are ignored. A JSON
// or msgpack array of objects yields one record per element, sharing the message's ack
// (Record.Split).
//
// A vector field name[N] (pipeline.Vector) takes its N values, in order, from an array
// of N numbers (or nulls: missing) at its payload key. When the pipeline has exactly one
// vector field, a bare array payload [v0, v1, …] — one whose first element is neither an
// object nor an array — is that vector's values alone: its other fields are missing, its
// event time is the arrival time, and its device comes from the topic; an array of such
// arrays (and objects) is a batch, one record per element, like an array of objects.
//
// A payload that cannot be decoded is dead-lettered with a reason starting "decode: ":
// one larger than MaxPayload, invalid UTF-8 in JSON, malformed JSON or msgpack (msgpack is
// checked by checkMsgpack before it is decoded, so a hostile header cannot exhaust memory
// or stack; encoding/json stops at 10000 nested levels), a value that is not a number, a
// vector's value that is not an array or has the wrong length, or a reading whose event
// time is not representable as int64 ns (before 1677-09-21 or after 2262-04-11) or lies
// outside MaxFuture/MaxPast of its arrival.
type Decode struct {
	fields    []string
	keys      []string // payload key per scalar field; "" for a vector's positions
	vectors   []vectorKey
	bare      int // the vector a bare array fills, or -1 (no vector field, or several)
	format    string
	topicSeg  int    // device from this topic segment, or -1
	devField  string // device from this payload field when topicSeg < 0
	timeField string
	timeUnit  string
	zone      *time.Location // of event times without an offset
	arrival   bool
	strict    bool // StrictJSON

	maxPayload         int
	maxFuture, maxPast time.Duration

	// flatKeys are the payload keys fillFlat looks for: the time field (slot 0, "" with
	// time_from arrival), the device field (slot 1, "" with device topic:N) and keys
	// (from slot 2); nil when the fast path is off (vector fields, or too many fields).
	flatKeys []string
}

// vectorKey is a vector field and the payload key of its array.
type vectorKey struct {
	pipeline.Vector
	key string
}

// NewDecode returns a decode operator for a pipeline with the given fields (vector
// fields expanded, as pipeline.Config.Fields gives them, and listed in o.Vectors). It
// returns an *OptionError for a malformed device spec, an unknown enum value, a negative
// limit, an unknown time zone, a map entry naming neither a field nor a vector field (or
// naming one position of a vector), or a vector outside fields.
func NewDecode(fields []string, o DecodeOptions) (*Decode, error) {
	d := &Decode{fields: fields, format: or(o.Format, FormatAuto), timeField: or(o.TimeField, "ts"), timeUnit: or(o.TimeUnit, UnitAuto),
		maxPayload: o.MaxPayload, maxFuture: o.MaxFuture, maxPast: o.MaxPast, strict: o.StrictJSON}
	zone, err := time.LoadLocation(or(o.TimeZone, "UTC"))
	if err != nil {
		return nil, optionErrorf(fieldTimeZone, "%q is not an IANA time zone (e.g. UTC, Europe/Berlin)", o.TimeZone)
	}
	d.zone = zone
	if o.MaxPayload < 0 {
		return nil, optionErrorf(fieldMaxPayload, "%d: want ≥ 0 bytes (0: no limit)", o.MaxPayload)
	}
	if o.MaxFuture < 0 {
		return nil, optionErrorf(fieldMaxFuture, "%v: want ≥ 0 (0: no limit)", o.MaxFuture)
	}
	if o.MaxPast < 0 {
		return nil, optionErrorf(fieldMaxPast, "%v: want ≥ 0 (0: no limit)", o.MaxPast)
	}
	switch d.format {
	case FormatAuto, FormatJSON, FormatMsgpack:
	default:
		return nil, optionErrorf(fieldFormat, "%q is not one of auto, json, msgpack", d.format)
	}
	switch d.timeUnit {
	case UnitAuto, UnitS, UnitMs, UnitUs, UnitNs, UnitRFC3339:
	default:
		return nil, optionErrorf(fieldTimeUnit, "%q is not one of auto, s, ms, us, ns, rfc3339", d.timeUnit)
	}
	switch from := or(o.TimeFrom, TimeFromField); from {
	case TimeFromField:
	case TimeFromArrival:
		d.arrival = true
	default:
		return nil, optionErrorf(fieldTimeFrom, "%q is not one of field, arrival", from)
	}
	dev := or(o.Device, "topic:1")
	switch {
	case strings.HasPrefix(dev, devicePrefixTopic):
		n, err := strconv.Atoi(dev[len(devicePrefixTopic):])
		if err != nil || n < 0 {
			return nil, optionErrorf(fieldDevice, "%q: want topic:N with N ≥ 0 (a 0-based topic segment)", dev)
		}
		d.topicSeg = n
	case strings.HasPrefix(dev, devicePrefixField) && len(dev) > len(devicePrefixField):
		d.topicSeg, d.devField = -1, dev[len(devicePrefixField):]
	default:
		return nil, optionErrorf(fieldDevice, "%q: want \"topic:N\" or \"field:NAME\"", dev)
	}
	d.keys = make([]string, len(fields))
	for i, f := range fields {
		d.keys[i] = or(o.Map[f], f)
	}
	vecOf := make([]int, len(fields)) // 1 + the index of the vector holding each field, 0: none
	for j, v := range o.Vectors {
		if v.Width < 1 || v.Start < 0 || v.Start+v.Width > len(fields) {
			return nil, optionErrorf(pipeline.KeyFields, "vector field %s[%d] at position %d is outside the %d fields", v.Name, v.Width, v.Start, len(fields))
		}
		d.vectors = append(d.vectors, vectorKey{Vector: v, key: or(o.Map[v.Name], v.Name)})
		for i := v.Start; i < v.Start+v.Width; i++ {
			d.keys[i], vecOf[i] = "", j+1
		}
	}
	for f, key := range o.Map {
		i := indexOf(fields, f)
		switch {
		case vectorIndex(o.Vectors, f) >= 0:
		case i < 0:
			return nil, optionErrorf(fieldMap, "%q is not a pipeline field (fields: %s)", f, declared(fields, o.Vectors))
		case vecOf[i] > 0:
			v := o.Vectors[vecOf[i]-1]
			return nil, optionErrorf(fieldMap, "%q is position %d of the vector field %s[%d]: map %q, whose key holds the whole array", f, i-v.Start, v.Name, v.Width, v.Name)
		}
		if key == "" {
			return nil, optionErrorf(fieldMap, "%s: empty payload key", f)
		}
	}
	d.bare = -1
	if len(d.vectors) == 1 {
		d.bare = 0
	}
	if len(d.vectors) == 0 && 2+len(d.keys) <= maxFlatKeys {
		d.flatKeys = append([]string{d.timeField, d.devField}, d.keys...)
		if d.arrival {
			d.flatKeys[0] = ""
		}
	}
	return d, nil
}

// vectorIndex returns the index of the vector field called name, or -1.
func vectorIndex(vectors []pipeline.Vector, name string) int {
	for j, v := range vectors {
		if v.Name == name {
			return j
		}
	}
	return -1
}

// declared writes the fields as the config declares them: "t, px[784], digit".
func declared(fields []string, vectors []pipeline.Vector) string {
	var parts []string
	for i := 0; i < len(fields); i++ {
		part := fields[i]
		for _, v := range vectors {
			if v.Start == i {
				part = fmt.Sprintf("%s[%d]", v.Name, v.Width)
				i += v.Width - 1
				break
			}
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// Run implements pipeline.Operator.
func (d *Decode) Run(ctx context.Context, in <-chan *pipeline.Record, out chan<- *pipeline.Record) error {
	var recs []*pipeline.Record
	var values floatSlab // of the records' Values
	for {
		rec, ok, err := nextRecord(ctx, in)
		if err != nil || !ok {
			return err
		}
		recs = d.decodeTo(recs[:0], rec, &values)
		for _, r := range recs {
			if err := send(ctx, out, r); err != nil {
				return err
			}
		}
		clear(recs) // keep no record alive
	}
}

// decode turns one record into the records to send on: rec itself (decoded, failed, or
// passed through when already dead), or one record per element of an array payload.
func (d *Decode) decode(rec *pipeline.Record) []*pipeline.Record {
	return d.decodeTo(nil, rec, nil)
}

// decodeTo is decode appending the records to buf; the Values of a flat JSON object
// (fillFlat) come from values.
func (d *Decode) decodeTo(buf []*pipeline.Record, rec *pipeline.Record, values *floatSlab) []*pipeline.Record {
	if rec.Dead() {
		return append(buf, rec)
	}
	if d.topicSeg >= 0 {
		// Known before parsing, so a payload that cannot be parsed is still a dead letter
		// of its device (Split copies it to every element).
		dev, reason := d.topicDevice(rec.Topic)
		if reason != "" {
			return append(buf, rec.Fail(reason))
		}
		rec.Device = dev
	}
	if d.maxPayload > 0 && len(rec.Payload) > d.maxPayload {
		rec.Fail(fmt.Sprintf("decode: payload of %d bytes exceeds max_payload %d", len(rec.Payload), d.maxPayload))
		rec.Payload = oversizedPayload(rec.Payload)
		return append(buf, rec)
	}
	text, isJSON, reason := d.prepare(rec.Payload)
	if reason == "" && isJSON && d.flatKeys != nil && d.fillFlat(rec, text, values) {
		return append(buf, rec) // the usual flat object, without a map (decode_flat.go)
	}
	var v any
	if reason == "" {
		v, reason = d.parse(rec.Payload, text, isJSON)
	}
	switch v := v.(type) {
	case nil:
		rec.Fail(reason)
	case map[string]any:
		d.fill(rec, v)
	case []any:
		if !isContainer(v[0]) {
			switch {
			case d.bare >= 0:
				d.fillBare(rec, v, "array")
				return append(buf, rec)
			case len(d.vectors) > 1:
				names := make([]string, len(d.vectors))
				for j, vec := range d.vectors {
					names[j] = vec.Name
				}
				rec.Fail(fmt.Sprintf("decode: a bare array fills the pipeline's vector field when it has one, and it has %d (%s): send an object", len(d.vectors), strings.Join(names, ", ")))
				return append(buf, rec)
			}
		}
		want := "an object"
		if d.bare >= 0 {
			want = "an object or an array"
		}
		recs := rec.Split(len(v))
		for i, r := range recs {
			switch e := v[i].(type) {
			case map[string]any:
				d.fill(r, e)
			case []any:
				if d.bare >= 0 {
					d.fillBare(r, e, fmt.Sprintf("array element %d", i))
					continue
				}
				r.Fail(fmt.Sprintf("decode: array element %d is %s, not %s", i, typeName(v[i]), want))
			default:
				r.Fail(fmt.Sprintf("decode: array element %d is %s, not %s", i, typeName(v[i]), want))
			}
		}
		return append(buf, recs...)
	default:
		rec.Fail(fmt.Sprintf("decode: payload is %s, not an object", typeName(v)))
	}
	return append(buf, rec)
}

// prepare returns the text of payload p — p without a leading UTF-8 byte-order mark and
// surrounding whitespace, and without trailing NUL bytes (C firmware sending its string
// terminator) — and whether it is JSON (by format, or for auto by its first byte). A
// JSON text is checked for valid UTF-8 and, unless strict, has its non-finite literals
// replaced by null (nullNonFinite). On failure it returns the dead-letter reason.
func (d *Decode) prepare(p []byte) (text []byte, isJSON bool, reason string) {
	text = trimJSONSpace(p)
	if t, ok := bytes.CutPrefix(text, utf8BOM); ok {
		text = trimJSONSpace(t)
	}
	for len(text) > 0 && text[len(text)-1] == 0 {
		text = trimJSONSpace(text[:len(text)-1])
	}
	if len(text) == 0 {
		return nil, false, "decode: empty payload"
	}
	isJSON = d.format == FormatJSON || d.format == FormatAuto && (text[0] == '{' || text[0] == '[')
	if !isJSON {
		return text, false, ""
	}
	if !utf8.Valid(text) {
		return nil, true, fmt.Sprintf("decode: invalid UTF-8 in JSON at byte %d", bytes.Index(p, text)+invalidUTF8At(text))
	}
	if !d.strict {
		text = nullNonFinite(text)
	}
	return text, true, ""
}

// trimJSONSpace returns p without JSON whitespace at either end.
func trimJSONSpace(p []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
	for len(p) > 0 && isSpace(p[0]) {
		p = p[1:]
	}
	for len(p) > 0 && isSpace(p[len(p)-1]) {
		p = p[:len(p)-1]
	}
	return p
}

// parse decodes a payload p, whose text and kind prepare returned, into a
// map[string]any, a non-empty []any or another value to reject; on failure it returns
// nil and the dead-letter reason. A msgpack payload is checked with checkMsgpack first.
func (d *Decode) parse(p, text []byte, isJSON bool) (any, string) {
	var v any
	if isJSON {
		if obj, ok := parseFlatJSON(text); ok {
			return obj, "" // the usual flat object, without the Decoder (decode_flat.go)
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var jv any // not &v: v would then be on the heap for every payload
		if err := dec.Decode(&jv); err != nil {
			return nil, "decode: invalid JSON: " + err.Error()
		}
		if len(bytes.TrimSpace(text[dec.InputOffset():])) > 0 {
			return nil, "decode: invalid JSON: trailing data after the value"
		}
		v = jv
	} else {
		if err := checkMsgpack(p); err != nil {
			return nil, "decode: invalid msgpack: " + err.Error()
		}
		dec := msgpack.NewDecoder(bytes.NewReader(p))
		dec.UseLooseInterfaceDecoding(true)
		var err error
		if v, err = dec.DecodeInterfaceLoose(); err != nil {
			return nil, "decode: invalid msgpack: " + err.Error()
		}
	}
	switch v := v.(type) {
	case nil:
		return nil, "decode: payload is null, not an object"
	case []any:
		if len(v) == 0 {
			return nil, "decode: empty array"
		}
	}
	return v, ""
}

// fill sets rec's Device (with device "field:NAME"; decode has set one from the topic
// already), Time and Values from one payload object, or fails it. Device and Time are
// set as soon as they are known, so a reading failing later still counts
// as a dead letter in its window's summary; a time rejected by checkTime is not set, so
// such a reading is in no window.
func (d *Decode) fill(rec *pipeline.Record, obj map[string]any) {
	if d.topicSeg < 0 {
		dev, reason := d.fieldDevice(obj)
		if reason != "" {
			rec.Fail(reason)
			return
		}
		rec.Device = dev
	}
	t := rec.Received.UTC()
	if !d.arrival {
		raw, ok := lookup(obj, d.timeField)
		if !ok || raw == nil {
			rec.Fail(fmt.Sprintf("decode: missing timestamp field %q", d.timeField))
			return
		}
		var err error
		if t, err = parseTime(raw, d.timeUnit, d.zone); err != nil {
			var re *rangeError
			if errors.As(err, &re) {
				rec.Fail("decode: " + err.Error())
			} else {
				rec.Fail(fmt.Sprintf("decode: bad timestamp %q: %v", d.timeField, err))
			}
			return
		}
	}
	if reason := d.checkTime(t, rec.Received); reason != "" {
		rec.Fail(reason)
		return
	}
	rec.Time = t
	rec.Values = make([]float64, len(d.fields))
	for i, key := range d.keys {
		rec.Values[i] = math.NaN()
		if key == "" { // a vector's position, filled below
			continue
		}
		raw, ok := lookup(obj, key)
		if !ok || raw == nil {
			continue
		}
		x, ok := number(raw)
		if !ok {
			rec.Fail(fmt.Sprintf("decode: field %q: %s", key, notNumber(raw)))
			return
		}
		rec.Values[i] = orMissing(x)
	}
	for _, v := range d.vectors {
		raw, ok := lookup(obj, v.key)
		if !ok || raw == nil {
			continue // missing: its positions stay NaN
		}
		arr, ok := raw.([]any)
		if !ok {
			rec.Fail(fmt.Sprintf("decode: field %q: %s, not an array of %d numbers (%s[%d])", v.key, typeName(raw), v.Width, v.Name, v.Width))
			return
		}
		if reason := v.fill(rec.Values, arr, fmt.Sprintf("field %q", v.key)); reason != "" {
			rec.Fail(reason)
			return
		}
	}
}

// fillBare sets rec from a bare array payload (or element of a batch, where names it
// in reasons): the pipeline's one vector field takes the array, every other field is
// missing, the event time is the arrival time (a bare array has no time field), the
// device is the topic's (set by decode already). It fails rec when the device is to come
// from a payload field, or as vectorKey.fill does.
func (d *Decode) fillBare(rec *pipeline.Record, arr []any, where string) {
	if d.topicSeg < 0 {
		rec.Fail(fmt.Sprintf("decode: %s has no device field %q (a bare array needs device: topic:N)", where, d.devField))
		return
	}
	t := rec.Received.UTC()
	if reason := d.checkTime(t, rec.Received); reason != "" {
		rec.Fail(reason)
		return
	}
	rec.Time = t
	rec.Values = make([]float64, len(d.fields))
	for i := range rec.Values {
		rec.Values[i] = math.NaN()
	}
	if reason := d.vectors[d.bare].fill(rec.Values, arr, where); reason != "" {
		rec.Fail(reason)
	}
}

// fill writes the vector's values from arr into values[Start:Start+Width]: numbers (and
// numeric strings) as they are, null and ±Inf as missing (NaN). It returns the
// dead-letter reason, naming the array as where, when arr's length is not Width or an
// element is not a number; "" on success.
func (v vectorKey) fill(values []float64, arr []any, where string) string {
	if len(arr) != v.Width {
		return fmt.Sprintf("decode: %s: %d values, want %d (%s[%d])", where, len(arr), v.Width, v.Name, v.Width)
	}
	for i, e := range arr {
		x := math.NaN()
		if e != nil {
			var ok bool
			if x, ok = number(e); !ok {
				return fmt.Sprintf("decode: %s element %d: %s", where, i, notNumber(e))
			}
		}
		values[v.Start+i] = orMissing(x)
	}
	return ""
}

// orMissing returns x, or NaN (missing) for ±Inf ("Infinity", msgpack ±Inf: missing, like NaN).
func orMissing(x float64) float64 {
	if math.IsInf(x, 0) {
		return math.NaN()
	}
	return x
}

// isContainer reports whether a decoded value is an object or an array.
func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// checkTime returns the dead-letter reason for an event time t that is not representable
// as int64 ns, or that lies more than maxFuture after or maxPast before the arrival
// time; "" when t is accepted. A zero arrival time (unknown) skips the arrival bounds.
func (d *Decode) checkTime(t, arrival time.Time) string {
	if err := representable(t); err != nil {
		return "decode: " + err.Error()
	}
	if arrival.IsZero() {
		return ""
	}
	if ahead := t.Sub(arrival); d.maxFuture > 0 && ahead > d.maxFuture {
		return fmt.Sprintf("decode: event time %s is %v after arrival (max_future %v)", t.Format(time.RFC3339Nano), ahead, d.maxFuture)
	}
	if behind := arrival.Sub(t); d.maxPast > 0 && behind > d.maxPast {
		return fmt.Sprintf("decode: event time %s is %v before arrival (max_past %v)", t.Format(time.RFC3339Nano), behind, d.maxPast)
	}
	return ""
}

// topicDevice returns the device id in segment topicSeg (0-based, split on '/') of
// topic, or a dead-letter reason when that segment is missing or empty.
func (d *Decode) topicDevice(topic string) (string, string) {
	rest := topic
	for i := 0; ; i++ {
		seg, after, more := strings.Cut(rest, "/")
		if i == d.topicSeg {
			if seg == "" {
				return "", fmt.Sprintf("decode: missing device: topic %q has an empty segment %d", topic, d.topicSeg)
			}
			return seg, ""
		}
		if !more {
			return "", fmt.Sprintf("decode: missing device: topic %q has no segment %d", topic, d.topicSeg)
		}
		rest = after
	}
}

// fieldDevice returns the device id in the payload field (or path) devField, or a
// dead-letter reason when it is missing, empty, not valid UTF-8, or not a string or
// integer. A JSON number is kept as written and a msgpack integer in full (all 64 bits);
// a msgpack float is accepted when it is a whole number of at most 2^53.
func (d *Decode) fieldDevice(obj map[string]any) (string, string) {
	raw, _ := lookup(obj, d.devField)
	switch v := raw.(type) {
	case nil:
		return "", fmt.Sprintf("decode: missing device field %q", d.devField)
	case string:
		if v == "" {
			return "", fmt.Sprintf("decode: empty device field %q", d.devField)
		}
		if !utf8.ValidString(v) {
			return "", fmt.Sprintf("decode: device field %q is not valid UTF-8", d.devField)
		}
		return v, ""
	case json.Number:
		return v.String(), ""
	case int64:
		return strconv.FormatInt(v, 10), ""
	case uint64:
		return strconv.FormatUint(v, 10), ""
	}
	if x, ok := number(raw); ok {
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return strconv.FormatFloat(x, 'f', -1, 64), ""
		}
		return "", fmt.Sprintf("decode: device field %q is %v, not a string or an integer", d.devField, x)
	}
	return "", fmt.Sprintf("decode: device field %q is %s, not a string", d.devField, typeName(raw))
}

// lookup returns the value at key in obj: the literal key when obj has it, else the
// dotted path a.b.c through nested objects.
func lookup(obj map[string]any, key string) (any, bool) {
	if v, ok := obj[key]; ok {
		return v, true
	}
	if !strings.Contains(key, ".") {
		return nil, false
	}
	var cur any = obj
	for part := range strings.SplitSeq(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// number converts a decoded JSON or msgpack value to float64: numbers, and strings that
// parse as numbers ("23.5").
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		x, err := strconv.ParseFloat(string(v), 64)
		return x, err == nil
	case string:
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return x, err == nil
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case int8:
		return float64(v), true
	case int16:
		return float64(v), true
	case int32:
		return float64(v), true
	case uint8:
		return float64(v), true
	case uint16:
		return float64(v), true
	case uint32:
		return float64(v), true
	}
	return 0, false
}

// notNumber says why number rejected v: "<v> is out of range for float64" for a JSON
// number or numeric string beyond ±1.8e308 (1e999), else "<v> is not a number".
func notNumber(v any) string {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = string(v)
	case string:
		s = strings.TrimSpace(v)
	}
	if _, err := strconv.ParseFloat(s, 64); errors.Is(err, strconv.ErrRange) {
		return describe(v) + " is out of range for float64"
	}
	return describe(v) + " is not a number"
}

// parseTime converts a decoded timestamp to UTC. Numbers are epoch s, ms, µs or ns per
// unit (auto: by magnitude, |v| < 1e11 s, < 1e14 ms, < 1e17 µs, else ns); strings are
// RFC 3339 (see parseRFC3339; a time without offset is in zone) unless they parse as a
// number and unit is not rfc3339; msgpack timestamps
// (extension −1) are taken as they are. A time it returns is representable as int64 ns
// (minTime to maxTime); one outside that range is a *rangeError.
func parseTime(v any, unit string, zone *time.Location) (time.Time, error) {
	t, err := parseTimeAny(v, unit, zone)
	if err != nil {
		return time.Time{}, err
	}
	if err := representable(t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// maxAbsEpochSec bounds |seconds since the epoch| that parseTimeAny turns into a
// time.Time (2^40 s ≈ 34 800 years, far outside minTime–maxTime); beyond it the number
// itself is reported, as time.Unix would overflow near ±2^63 s.
const maxAbsEpochSec = 1 << 40

// rangeError is an event time outside minTime–maxTime (not representable as int64 ns);
// what is the time (RFC 3339) or, far beyond, the number and its unit.
type rangeError struct{ what string }

func (e *rangeError) Error() string {
	return "time " + e.what + " is outside the representable range (1678–2262)"
}

// representable returns a *rangeError when t is not representable as int64 ns.
func representable(t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return &rangeError{what: t.Format(time.RFC3339Nano)}
	}
	return nil
}

// parseTimeAny is parseTime without the final range check; numbers beyond
// ±maxAbsEpochSec seconds are a *rangeError.
func parseTimeAny(v any, unit string, zone *time.Location) (time.Time, error) {
	if t, ok := v.(time.Time); ok {
		return t.UTC(), nil
	}
	var i int64
	var f float64
	isInt := false
	switch v := v.(type) {
	case string:
		if unit == UnitRFC3339 {
			return parseRFC3339(v, zone)
		}
		s := strings.TrimSpace(v)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			i, isInt = n, true
		} else if x, err := strconv.ParseFloat(s, 64); err == nil {
			f = x
		} else if unit == UnitAuto {
			return parseRFC3339(v, zone)
		} else {
			return time.Time{}, fmt.Errorf("%q is not a number of %s", v, unit)
		}
	case json.Number:
		return numberTime(string(v), unit)
	case int64:
		i, isInt = v, true
	case uint64:
		if v > math.MaxInt64 {
			return time.Time{}, fmt.Errorf("%d is out of range", v)
		}
		i, isInt = int64(v), true
	default:
		x, ok := number(v)
		if !ok {
			return time.Time{}, fmt.Errorf("%s is not a number or an RFC 3339 string", describe(v))
		}
		f = x
	}
	return epochTime(i, f, isInt, unit)
}

// numberTime is parseTimeAny of a JSON number written as s.
func numberTime(s string, unit string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return epochTime(n, 0, true, unit)
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil {
		return epochTime(0, x, false, unit)
	}
	return time.Time{}, fmt.Errorf("%s is out of range", s)
}

// epochTime is parseTimeAny of a number: the integer i when isInt, else f, since the
// epoch in unit (auto: by magnitude).
func epochTime(i int64, f float64, isInt bool, unit string) (time.Time, error) {
	if unit == UnitRFC3339 {
		return time.Time{}, fmt.Errorf("want an RFC 3339 string, got a number")
	}
	if isInt {
		f = float64(i)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("%v is not finite", f)
	}
	if unit == UnitAuto {
		switch a := math.Abs(f); {
		case a < 1e11:
			unit = UnitS
		case a < 1e14:
			unit = UnitMs
		case a < 1e17:
			unit = UnitUs
		default:
			unit = UnitNs
		}
	}
	var perSec int64 = 1e9
	switch unit {
	case UnitS:
		perSec = 1
	case UnitMs:
		perSec = 1e3
	case UnitUs:
		perSec = 1e6
	}
	if isInt {
		sec, rem := i/perSec, i%perSec
		if rem < 0 {
			sec, rem = sec-1, rem+perSec
		}
		if sec > maxAbsEpochSec || sec < -maxAbsEpochSec {
			return time.Time{}, &rangeError{what: fmt.Sprintf("%d %s", i, unit)}
		}
		return time.Unix(sec, rem*(1e9/perSec)).UTC(), nil
	}
	sec := math.Floor(f / float64(perSec))
	if math.Abs(sec) > maxAbsEpochSec {
		return time.Time{}, &rangeError{what: fmt.Sprintf("%v %s", f, unit)}
	}
	nsec := math.Round((f - sec*float64(perSec)) * float64(1e9/perSec))
	return time.Unix(int64(sec), int64(nsec)).UTC(), nil
}

// rfc3339Layouts are the layouts parseRFC3339 tries: RFC 3339 (fractional seconds are
// always accepted), its offset without the colon (ISO 8601 basic, +0200), and a local
// time without offset, read in the configured zone.
var rfc3339Layouts = []string{time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05"}

// parseRFC3339 parses an RFC 3339 time (RFC 3339 §5.6, which also allows a space or a
// lowercase t and z), "2024-05-01T12:00:00+0200", or a zoneless
// "2024-05-01T12:00:00" taken as a local time in zone, and returns it in UTC.
func parseRFC3339(s string, zone *time.Location) (time.Time, error) {
	norm := strings.TrimSpace(s)
	if len(norm) > 10 && (norm[10] == ' ' || norm[10] == 't') {
		norm = norm[:10] + "T" + norm[11:]
	}
	if strings.HasSuffix(norm, "z") {
		norm = norm[:len(norm)-1] + "Z"
	}
	for _, layout := range rfc3339Layouts {
		if t, err := time.ParseInLocation(layout, norm, zone); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
}

// jsonSpace is JSON's insignificant whitespace (RFC 8259 §2).
const jsonSpace = " \t\r\n"

// utf8BOM is the UTF-8 byte-order mark some Windows tools put before a JSON text (RFC
// 8259 §8.1 lets a parser ignore it).
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// invalidUTF8At returns the offset of the first invalid UTF-8 sequence in p, or len(p).
func invalidUTF8At(p []byte) int {
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(p)
}

// nullNonFinite returns p with every bare NaN, Infinity or inf token outside strings
// (any case, optionally signed: Python's json.dumps writes NaN, Infinity and -Infinity,
// C's printf nan, -nan and inf) replaced by null; p itself when there is none.
func nullNonFinite(p []byte) []byte {
	if bytes.IndexByte(p, 'n') < 0 && bytes.IndexByte(p, 'N') < 0 {
		return p // every token it replaces has an n
	}
	var out []byte
	last := 0
	inString, escaped := false, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			continue
		}
		if i > 0 && isWordByte(p[i-1]) || !(c == '-' || c == '+' || isLetter(c)) {
			continue
		}
		j := i
		if c == '-' || c == '+' {
			j++
		}
		k := j
		for k < len(p) && isLetter(p[k]) {
			k++
		}
		if k < len(p) && isWordByte(p[k]) {
			continue
		}
		switch strings.ToLower(string(p[j:k])) {
		case "nan", "inf", "infinity":
			out = append(append(out, p[last:i]...), "null"...)
			last = k
		}
		if k > j {
			i = k - 1
		}
	}
	if out == nil {
		return p
	}
	return append(out, p[last:]...)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isWordByte(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' || c == '.' || c == '_' }

// typeName names a decoded value's kind for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number: // also one out of float64's range
		return "a number"
	case time.Time:
		return "a timestamp"
	}
	if _, ok := number(v); ok {
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// describe shows a rejected value briefly: strings quoted and JSON numbers as written
// (both cut at 32 bytes), other scalars as they are, containers by kind.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(cut(v))
	case json.Number:
		return cut(string(v))
	case bool:
		return strconv.FormatBool(v)
	}
	return typeName(v)
}

// cut shortens s to its first 32 bytes followed by "…" when it is longer.
func cut(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// indexOf returns the index of s in list, or -1.
func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
