package operators

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/edgepipe/edgepipe/pipeline"
)

// parseFlatJSON is decode's fast path for the payload almost every sensor sends: one
// JSON object (RFC 8259) whose values are numbers, strings without escapes, true, false
// or null, e.g. {"ts": 1704067200000, "value": 12.5}. It returns exactly what
// encoding/json's Decoder with UseNumber returns for such a text (map[string]any with
// json.Number, string, bool and nil values; the last of duplicate keys wins), without
// the Decoder's buffers and reflection: one map and one string conversion of the text
// per payload. It returns false for anything else — nested values, escapes, control
// characters in strings, invalid JSON, or data after the object — which then goes to
// the Decoder, whose result or error message stands. text must be valid UTF-8 with no
// surrounding whitespace (parse trims it).
func parseFlatJSON(text []byte) (map[string]any, bool) {
	// Keys, strings and numbers are slices of s, so the payload costs one conversion.
	obj := make(map[string]any, 4)
	ok := walkFlatJSON(string(text), func(key string, kind scalarKind, val string) {
		obj[key] = kind.value(val)
	})
	if !ok {
		return nil, false
	}
	return obj, true
}

// scalarKind is the kind of a scalar of a flat JSON object (walkFlatJSON); scalarAbsent is
// a key that the object does not have.
type scalarKind uint8

const (
	scalarAbsent scalarKind = iota
	scalarNumber
	scalarString
	scalarTrue
	scalarFalse
	scalarNull
)

// value returns the scalar of kind k whose text is val (a number's text, a string's
// contents) as encoding/json with UseNumber returns it: json.Number, string, bool or nil.
func (k scalarKind) value(val string) any {
	switch k {
	case scalarNumber:
		return json.Number(val)
	case scalarString:
		return val
	case scalarTrue:
		return true
	case scalarFalse:
		return false
	}
	return nil
}

// walkFlatJSON calls visit for every member of the flat JSON object s (see
// parseFlatJSON), in order, with its key, its kind and its text (a number as written, a
// string without its quotes; "" for true, false and null), and reports whether s is such
// an object; visit may have been called for a prefix of s when it is not. The visited
// strings are slices of s.
func walkFlatJSON(s string, visit func(key string, kind scalarKind, val string)) bool {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	i := skipSpace(s, 1)
	if s[i] == '}' {
		return i == len(s)-1
	}
	for {
		key, j, ok := flatString(s, i)
		if !ok {
			return false
		}
		i = skipSpace(s, j)
		if s[i] != ':' {
			return false
		}
		start := skipSpace(s, i+1)
		var kind scalarKind
		if kind, i, ok = flatScalar(s, start); !ok {
			return false
		}
		val := ""
		switch kind {
		case scalarNumber:
			val = s[start:i]
		case scalarString:
			val = s[start+1 : i-1]
		}
		visit(key, kind, val)
		i = skipSpace(s, i)
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return i == len(s)-1
		default:
			return false
		}
	}
}

// skipSpace returns the index of the first byte of s at or after i that is not JSON
// whitespace; the closing '}' guarantees one before the end.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return min(i, len(s)-1)
}

// flatString reads the string starting at s[i] ('"'), which must have no escape and no
// control character, and returns it and the index after its closing quote.
func flatString(s string, i int) (string, int, bool) {
	if s[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return "", j, false
		}
	}
	return "", i, false
}

// flatScalar reads the scalar starting at s[i] — a number, a string without escapes,
// true, false or null — and returns its kind and the index after it.
func flatScalar(s string, i int) (scalarKind, int, bool) {
	switch c := s[i]; {
	case c == '"':
		_, j, ok := flatString(s, i)
		return scalarString, j, ok
	case c == '-' || c >= '0' && c <= '9':
		j, ok := numberEnd(s, i)
		return scalarNumber, j, ok
	}
	for _, lit := range [...]struct {
		text string
		kind scalarKind
	}{{"true", scalarTrue}, {"false", scalarFalse}, {"null", scalarNull}} {
		if len(s)-i >= len(lit.text) && s[i:i+len(lit.text)] == lit.text {
			return lit.kind, i + len(lit.text), true
		}
	}
	return scalarAbsent, i, false
}

// numberEnd returns the index after the JSON number starting at s[i], and false when
// the text there is not one (RFC 8259 §6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?).
func numberEnd(s string, i int) (int, bool) {
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digitsEnd(s, i)
	default:
		return i, false
	}
	if i < len(s) && s[i] == '.' {
		j := digitsEnd(s, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digitsEnd(s, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

// digitsEnd returns the index of the first non-digit of s at or after i.
func digitsEnd(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// maxFlatKeys bounds the payload keys fillFlat looks for (time, device and one per
// field): a pipeline with more fields takes the general path.
const maxFlatKeys = 32

// fillFlat is decode's fast path for the usual payload, a flat JSON object text (see
// parseFlatJSON; prepared by prepare) whose time is a number, whose device (with device
// field:NAME) is a non-empty string or a number, and whose fields are numbers, numeric
// strings, null or absent. It sets rec's Device (with field:NAME), Time and Values
// exactly as parseFlatJSON and fill would, without the map and its boxed values, and
// returns true; for anything else — another text, a value of another kind, a time
// rejected, a field that is not a number — it changes nothing and returns false, and the
// general path decodes the payload and words the dead letter. With a flat object, a
// dotted key can only be a literal key: a path through nested objects finds nothing.
// Values are taken from slab.
func (d *Decode) fillFlat(rec *pipeline.Record, text []byte, slab *floatSlab) bool {
	type scalar struct {
		kind scalarKind
		val  string
	}
	var found [maxFlatKeys]scalar
	keys := d.flatKeys
	if !walkFlatJSON(string(text), func(key string, kind scalarKind, val string) {
		for j, k := range keys {
			if k == key && k != "" {
				found[j] = scalar{kind, val} // the last duplicate wins
			}
		}
	}) {
		return false
	}
	dev := rec.Device
	if d.topicSeg < 0 {
		switch f := found[1]; {
		case f.kind == scalarString && f.val != "", f.kind == scalarNumber:
			dev = f.val // a JSON number as written
		default:
			return false
		}
	}
	t := rec.Received.UTC()
	if !d.arrival {
		if found[0].kind != scalarNumber {
			return false
		}
		var err error
		if t, err = numberTime(found[0].val, d.timeUnit); err != nil || representable(t) != nil {
			return false
		}
	}
	if d.checkTime(t, rec.Received) != "" {
		return false
	}
	var vals [maxFlatKeys]float64
	for i := range d.keys {
		x := math.NaN()
		switch f := found[2+i]; f.kind {
		case scalarAbsent, scalarNull:
		case scalarNumber, scalarString:
			v, err := strconv.ParseFloat(strings.TrimSpace(f.val), 64)
			if err != nil {
				return false
			}
			x = orMissing(v)
		default:
			return false
		}
		vals[i] = x
	}
	values := slab.take(len(d.keys))
	copy(values, vals[:])
	rec.Device, rec.Time, rec.Values = dev, t, values
	return true
}
