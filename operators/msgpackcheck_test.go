package operators

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// validMsgpack encodes one value of every msgpack type family, in each of its sizes.
func validMsgpack(t *testing.T) [][]byte {
	t.Helper()
	vals := []any{
		nil, true, false,
		0, 127, -1, -32, -33, 200, 40000, 1 << 31, int64(1) << 40, -200, -40000, int64(-1) << 40, uint64(math.MaxUint64),
		float32(1.5), 2.5, math.Inf(-1),
		"", strings.Repeat("a", 31), strings.Repeat("b", 32), strings.Repeat("c", 256), strings.Repeat("d", 70000),
		[]byte{}, []byte{1, 2}, bytes.Repeat([]byte{3}, 300), bytes.Repeat([]byte{4}, 70000),
		time.Unix(1700000000, 0), time.Unix(1700000000, 5), time.Unix(1<<40, 5), // timestamp 32, 64, 96: fixext4, fixext8, ext8
		[]any{}, make([]any, 15), make([]any, 16), make([]any, 70000),
		map[string]any{}, map[string]any{"ts": 1, "v": []any{1.5, "x", map[string]any{"k": nil}}},
	}
	big := map[string]any{}
	for i := range 70000 {
		big[string(rune(0x4e00+i%20000))+strings.Repeat("k", i/20000)] = i
	}
	vals = append(vals, big)
	var out [][]byte
	for _, v := range vals {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	// ext 16 and 32 (an application type 5), which no Go value above produces.
	out = append(out, append([]byte{0xc8, 0x01, 0x00, 5}, make([]byte, 256)...), append([]byte{0xc9, 0, 1, 0, 0, 5}, make([]byte, 65536)...))
	return out
}

func TestCheckMsgpackAcceptsEveryType(t *testing.T) {
	for _, b := range validMsgpack(t) {
		if err := checkMsgpack(b); err != nil {
			t.Errorf("% x…: %v", b[:min(len(b), 8)], err)
		}
	}
}

// TestCheckMsgpackRejectsPrefixesAndTrailing: msgpack is prefix-free, so every strict
// prefix of a valid value is cut short, and a byte after it is trailing.
func TestCheckMsgpackRejectsPrefixesAndTrailing(t *testing.T) {
	for _, b := range validMsgpack(t) {
		if len(b) > 1000 {
			b = b[:1000] // still a prefix-free check of the header paths, and fast
		} else if err := checkMsgpack(append(b[:len(b):len(b)], 0)); err == nil || err.Error() != "1 trailing bytes after the value" {
			t.Errorf("% x + 00: error %v, want 1 trailing byte", b, err)
		}
		for n := range len(b) - 1 {
			if err := checkMsgpack(b[:n]); err == nil {
				t.Errorf("prefix % x of % x… accepted", b[:n], b[:min(len(b), 8)])
			}
		}
	}
}

func TestCheckMsgpackErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "unexpected end of data at byte 0"},
		{"\xc1", "unused type byte 0xc1 at byte 0"},
		{"\x92\x92\x01\x02", "unexpected end of data at byte 4"},
		{"\xdc\xff", "unexpected end of data in the length at byte 1"},
		{"\xdc\x00\x03\x01\x02", "3 elements declared at byte 0 exceed the 2 bytes left"},
		{"\x82\xa1a\x01", "4 elements declared at byte 0 exceed the 3 bytes left"},
		{"\xc7\x05\x01abc", "length 5 at byte 0 exceeds the 4 bytes left"},
		{"\xc7\x03\x01abc", ""},
		{"\xc7\x04\x01abc", "unexpected end of data at byte 6"}, // the ext's type byte counts
		{"\xcb\x00\x00", "unexpected end of data at byte 3"},
		{"\xd8\x01" + strings.Repeat("x", 15), "unexpected end of data at byte 17"},
		{"\x80\x80", "1 trailing bytes after the value"},
		{strings.Repeat("\x81\xa1k", 64) + "\x01", ""},
		{strings.Repeat("\x81\xa1k", 65) + "\x01", "nesting deeper than 64 at byte 192"},
	} {
		got := ""
		if err := checkMsgpack([]byte(tc.in)); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("% x: error %q, want %q (\"\": accepted)", tc.in, got, tc.want)
		}
	}
}
