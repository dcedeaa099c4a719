package operators

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

// fuzzUnits are the time_unit values parseTime is called with (NewDecode rejects others).
var fuzzUnits = []string{UnitAuto, UnitS, UnitMs, UnitUs, UnitNs, UnitRFC3339}

// FuzzTimestamp feeds parseTime every kind of decoded timestamp (a JSON number, a
// string, a msgpack int64, uint64, float64 or timestamp extension) in every time_unit.
// parseTime must not panic; a time it returns must be UTC and representable as int64 ns
// (1677-09-21 to 2262-04-11), and an integer with an explicit unit must come back exact
// (t.Unix, UnixMilli, UnixMicro or UnixNano equal to it), a float within 1 µs + 1e-12
// relative; an out-of-range error must be a *rangeError. Run it with
// go test -run '^$' -fuzz FuzzTimestamp ./operators; crashers land in
// testdata/fuzz/FuzzTimestamp and run with every go test.
func FuzzTimestamp(f *testing.F) {
	for _, seed := range []struct {
		kind, unit uint8
		s          string
		i          int64
		x          float64
	}{
		{0, 0, "1700000000123", 0, 0}, {1, 5, "2023-11-14T22:13:20.5+01:00", 0, 0},
		{1, 0, " 1.7e9 ", 0, 0}, {1, 1, "yesterday", 0, 0}, {1, 0, "9999-12-31T23:59:59Z", 0, 0},
		{0, 4, "1e999", 0, 0}, {0, 2, "-9223372036854775808", 0, 0},
		{2, 1, "", math.MaxInt64, 0}, {2, 1, "", math.MinInt64, 0}, {2, 4, "", math.MinInt64, 0},
		{2, 1, "", 9223372036, 0}, {2, 1, "", -9223372037, 0}, {2, 2, "", -1, 0},
		{3, 0, "", -1, 0}, {4, 1, "", 0, 1.7e9 + 0.25}, {4, 0, "", 0, math.Inf(1)}, {4, 3, "", 0, -1e300},
		{5, 0, "", 1 << 40, 999999999}, {5, 0, "", -9223372037, 0}, {6, 0, "", 0, 0},
	} {
		f.Add(seed.kind, seed.unit, seed.s, seed.i, seed.x)
	}
	f.Fuzz(func(t *testing.T, kind, unitIdx uint8, s string, i int64, x float64) {
		unit := fuzzUnits[int(unitIdx)%len(fuzzUnits)]
		var v any
		switch kind % 7 {
		case 0:
			v = json.Number(s)
		case 1:
			v = s
		case 2:
			v = i
		case 3:
			v = uint64(i)
		case 4:
			v = x
		case 5:
			v = time.Unix(i%(1<<40), int64(x)%1e9)
		default:
			v = s == ""
		}
		got, err := parseTime(v, unit, time.UTC)
		if err != nil {
			if !got.IsZero() {
				t.Fatalf("parseTime(%#v, %s) = %v with error %v", v, unit, got, err)
			}
			var re *rangeError
			if errors.As(err, &re) && re.what == "" {
				t.Fatalf("parseTime(%#v, %s): empty range error", v, unit)
			}
			return
		}
		if got.Location() != time.UTC || got.Before(minTime) || got.After(maxTime) {
			t.Fatalf("parseTime(%#v, %s) = %v: not UTC or outside the int64 ns range", v, unit, got)
		}
		if ns := got.UnixNano(); !time.Unix(0, ns).UTC().Equal(got) {
			t.Fatalf("parseTime(%#v, %s) = %v: UnixNano %d does not round-trip", v, unit, got, ns)
		}
		switch v := v.(type) {
		case int64:
			checkExact(t, v, unit, got)
		case float64:
			checkNear(t, v, unit, got)
		}
	})
}

// checkExact fails t unless got is exactly the integer n in unit, with no finer part
// (auto is not checked).
func checkExact(t *testing.T, n int64, unit string, got time.Time) {
	t.Helper()
	var back int64
	switch unit {
	case UnitS:
		back = got.Unix()
	case UnitMs:
		back = got.UnixMilli()
	case UnitUs:
		back = got.UnixMicro()
	case UnitNs:
		back = got.UnixNano()
	default:
		return
	}
	if back != n || got.Nanosecond()%int(1e9/unitsPerSec(unit)) != 0 {
		t.Fatalf("parseTime(%d, %s) = %v (%d %s back), want exact", n, unit, got, back, unit)
	}
}

// checkNear fails t unless got is within 1 µs + 1e-12 relative of the float x in unit
// (auto is not checked).
func checkNear(t *testing.T, x float64, unit string, got time.Time) {
	t.Helper()
	if unit == UnitAuto {
		return
	}
	want := x * float64(1e9/unitsPerSec(unit))
	if d := math.Abs(float64(got.UnixNano()) - want); d > 1e3+1e-12*math.Abs(want) {
		t.Fatalf("parseTime(%v, %s) = %v (%d ns), want %.0f ns", x, unit, got, got.UnixNano(), want)
	}
}

// unitsPerSec is how many of unit make a second (s, ms, us or ns).
func unitsPerSec(unit string) int64 {
	switch unit {
	case UnitS:
		return 1
	case UnitMs:
		return 1e3
	case UnitUs:
		return 1e6
	}
	return 1e9
}
