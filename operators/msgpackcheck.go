package operators

import (
	"encoding/binary"
	"fmt"
)

// maxMsgpackDepth is the deepest nesting of msgpack arrays and maps checkMsgpack accepts
// (a sensor reading is an object, or an array of objects: depth 2).
const maxMsgpackDepth = 64

// checkMsgpack walks one msgpack value (MessagePack specification,
// github.com/msgpack/msgpack/blob/master/spec.md) without decoding or allocating, so
// that a hostile header cannot make the decoder allocate or recurse without bound. It
// returns an error when p is not exactly one well-formed value: an unused type byte
// (0xc1), a value cut short, a declared string, binary or extension length, or array
// or map element count, larger than the bytes left (every element takes at least one
// byte), nesting deeper than maxMsgpackDepth, or bytes after the value. It is iterative:
// its stack is maxMsgpackDepth+1 counters, whatever the input.
func checkMsgpack(p []byte) error {
	// left[i] is how many values the container open at depth i still holds; depth 0 is
	// the top level, which holds one value.
	var left [maxMsgpackDepth + 1]uint64
	left[0] = 1
	depth, pos := 0, 0
	for {
		for left[depth] == 0 {
			if depth == 0 {
				if rest := len(p) - pos; rest > 0 {
					return fmt.Errorf("%d trailing bytes after the value", rest)
				}
				return nil
			}
			depth--
		}
		left[depth]--
		if pos >= len(p) {
			return fmt.Errorf("unexpected end of data at byte %d", pos)
		}
		c := p[pos]
		pos++
		// skip is the size of the value's fixed part after the type byte; lenBytes the
		// size of its big-endian length (str, bin, ext) or element count (array, map);
		// extra the bytes after the length (an ext's type byte); pairs whether the count
		// is of key-value pairs.
		var skip, lenBytes, extra int
		var count uint64
		container, pairs := false, false
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixint, nil, bool
		case c <= 0x8f: // fixmap
			container, pairs, count = true, true, uint64(c&0x0f)
		case c <= 0x9f: // fixarray
			container, count = true, uint64(c&0x0f)
		case c <= 0xbf: // fixstr
			skip = int(c & 0x1f)
		case c == 0xc1:
			return fmt.Errorf("unused type byte 0xc1 at byte %d", pos-1)
		case c <= 0xc6: // bin 8, 16, 32
			lenBytes = 1 << (c - 0xc4)
		case c <= 0xc9: // ext 8, 16, 32
			lenBytes, extra = 1<<(c-0xc7), 1
		case c <= 0xcb: // float 32, 64
			skip = 4 << (c - 0xca)
		case c <= 0xcf: // uint 8, 16, 32, 64
			skip = 1 << (c - 0xcc)
		case c <= 0xd3: // int 8, 16, 32, 64
			skip = 1 << (c - 0xd0)
		case c <= 0xd8: // fixext 1, 2, 4, 8, 16: type byte + data
			skip = 1 + 1<<(c-0xd4)
		case c <= 0xdb: // str 8, 16, 32
			lenBytes = 1 << (c - 0xd9)
		case c <= 0xdd: // array 16, 32
			container, lenBytes = true, 2<<(c-0xdc)
		default: // map 16, 32 (0xde, 0xdf)
			container, pairs, lenBytes = true, true, 2<<(c-0xde)
		}
		if lenBytes > 0 {
			if len(p)-pos < lenBytes {
				return fmt.Errorf("unexpected end of data in the length at byte %d", pos)
			}
			n := bigEndian(p[pos : pos+lenBytes])
			pos += lenBytes
			if container {
				count = n
			} else {
				if n > uint64(len(p)-pos) {
					return fmt.Errorf("length %d at byte %d exceeds the %d bytes left", n, pos-lenBytes-1, len(p)-pos)
				}
				skip = int(n) + extra
			}
		}
		if container {
			if pairs {
				count *= 2 // at most 2·(2³²−1): no overflow
			}
			if count > uint64(len(p)-pos) {
				return fmt.Errorf("%d elements declared at byte %d exceed the %d bytes left", count, pos-lenBytes-1, len(p)-pos)
			}
			if depth == maxMsgpackDepth {
				return fmt.Errorf("nesting deeper than %d at byte %d", maxMsgpackDepth, pos-lenBytes-1)
			}
			depth++
			left[depth] = count
			continue
		}
		if skip > len(p)-pos {
			return fmt.Errorf("unexpected end of data at byte %d", len(p))
		}
		pos += skip
	}
}

// bigEndian reads a 1-, 2- or 4-byte unsigned big-endian integer.
func bigEndian(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	default:
		return uint64(binary.BigEndian.Uint32(b))
	}
}
