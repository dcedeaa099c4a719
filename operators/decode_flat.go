package operators

import (
	"encoding/json"
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
	if len(text) < 2 || text[0] != '{' || text[len(text)-1] != '}' {
		return nil, false
	}
	// Keys, strings and numbers are slices of s, so the payload costs one conversion.
	s := string(text)
	obj := make(map[string]any, 4)
	i := skipSpace(s, 1)
	if s[i] == '}' {
		return obj, i == len(s)-1
	}
	for {
		key, j, ok := flatString(s, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(s, j)
		if s[i] != ':' {
			return nil, false
		}
		var v any
		if v, i, ok = flatValue(s, skipSpace(s, i+1)); !ok {
			return nil, false
		}
		obj[key] = v
		i = skipSpace(s, i)
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return obj, i == len(s)-1
		default:
			return nil, false
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

// flatValue reads the scalar starting at s[i] and returns it as encoding/json with
// UseNumber would (json.Number, string, bool or nil) and the index after it.
func flatValue(s string, i int) (any, int, bool) {
	switch c := s[i]; {
	case c == '"':
		str, j, ok := flatString(s, i)
		return str, j, ok
	case c == '-' || c >= '0' && c <= '9':
		j, ok := numberEnd(s, i)
		return json.Number(s[i:j]), j, ok
	}
	for _, lit := range [...]struct {
		text string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if len(s)-i >= len(lit.text) && s[i:i+len(lit.text)] == lit.text {
			return lit.v, i + len(lit.text), true
		}
	}
	return nil, i, false
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
