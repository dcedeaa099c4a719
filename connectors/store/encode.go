package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"time"
)

// canonicalNaN is the bit pattern every NaN is hashed as, so that a missing value hashes
// the same whatever NaN payload the decoder produced.
var canonicalNaN = math.Float64bits(math.NaN())

// valuesHash is the 64-bit FNV-1a hash (Fowler–Noll–Vo, FNV-1a variant) of the values'
// IEEE-754 bit patterns, 8 little-endian bytes per value, as an int64 (the inferences
// column vhash). Every NaN hashes as canonicalNaN.
func valuesHash(vals []float64) int64 {
	h := fnv.New64a()
	var b [8]byte
	for _, v := range vals {
		bits := math.Float64bits(v)
		if math.IsNaN(v) {
			bits = canonicalNaN
		}
		binary.LittleEndian.PutUint64(b[:], bits)
		h.Write(b[:])
	}
	return int64(h.Sum64())
}

// payloadHash is the 64-bit FNV-1a hash of a raw payload, as int64: with the topic and
// the record's Part it identifies a dead letter, so a redelivered one is stored once.
func payloadHash(b []byte) int64 {
	h := fnv.New64a()
	h.Write(b)
	return int64(h.Sum64())
}

// appendValues appends vals as a JSON array; non-finite values (NaN = missing) are null.
func appendValues(b []byte, vals []float64) []byte {
	b = append(b, '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNumber(b, v)
	}
	return append(b, ']')
}

// appendNumber appends v as a JSON number, or null when v is not finite.
func appendNumber(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// decodeValues parses a vals column: a JSON array of numbers and nulls (null → NaN).
func decodeValues(s string) ([]float64, error) {
	var raw []*float64
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("vals %q: %w", s, err)
	}
	out := make([]float64, len(raw))
	for i, p := range raw {
		if p == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *p
		}
	}
	return out, nil
}

// unixNano returns t in ns since the Unix epoch, or 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNano returns the UTC time of ns since the Unix epoch.
func fromNano(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// nullScore returns the score column value: NULL when the record was not scored (NaN)
// or its score is not finite (SQLite would keep ±Inf as a number).
func nullScore(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// nullString returns NULL for "" and s otherwise.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
