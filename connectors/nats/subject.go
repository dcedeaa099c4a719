package natsconn

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Long ids: an id of more than maxVerbatim bytes is mapped to the escape of its first
// longPrefix bytes, then hashMark, then the lowercase hex SHA-256 (FIPS 180-4) of the whole
// id, so a token is at most 3·256 = 768 bytes and a subject stays far below the NATS
// server's default max_control_line (4096 bytes) whatever the id's length.
const (
	maxVerbatim = 256
	longPrefix  = 200
	hashMark    = '~' // never produced by escaping: it tells hashed tokens apart
)

// emptyToken stands for an empty site or device id. Sanitize never produces a lone '%'
// (it writes '%' only as the start of a %XX escape), so the mapping stays injective;
// "%00" would not, because a device id holding a NUL byte encodes to it.
const emptyToken = "%"

// Subject returns the NATS subject of a device's summaries:
//
//	<prefix>.<site>.summary.<device>
//
// with each dot-separated token of prefix, and site and device as a whole, passed through
// SanitizeToken. A device id may hold '.', '*', '>', spaces or any UTF-8, and be of any
// length: it always becomes exactly one literal token of at most 768 bytes, and two
// different ids never share a subject (ids over 256 bytes: barring a SHA-256 collision).
func Subject(prefix, site, device string) string {
	var b strings.Builder
	for _, tok := range strings.Split(prefix, ".") {
		b.WriteString(SanitizeToken(tok))
		b.WriteByte('.')
	}
	b.WriteString(SanitizeToken(site))
	b.WriteString(".summary.")
	b.WriteString(SanitizeToken(device))
	return b.String()
}

// SanitizeToken maps s to one safe NATS subject token: bytes in [A-Za-z0-9_-] are kept and
// every other byte ('%' included) becomes %XX with uppercase hex, as in RFC 3986
// percent-encoding, so the result holds no '.', wildcard ('*', '>'), whitespace or
// non-ASCII byte. The empty string maps to "%". For s of at most 256 bytes the mapping is
// injective: decoding the %XX escapes gives s back. A longer s maps to the escape of its
// first 200 bytes, '~' and the 64 hex digits of its SHA-256 (at most 665 bytes): such a
// token never equals a short id's (escaping never writes '~'), and two long ids share
// one only if their SHA-256 collide.
func SanitizeToken(s string) string {
	if s == "" {
		return emptyToken
	}
	if len(s) > maxVerbatim {
		sum := sha256.Sum256([]byte(s))
		return escape(s[:longPrefix]) + string(hashMark) + hex.EncodeToString(sum[:])
	}
	return escape(s)
}

// escape percent-encodes every byte of s outside [A-Za-z0-9_-] as %XX (uppercase hex).
func escape(s string) string {
	const digits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&0x0F])
	}
	return b.String()
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// validPrefix reports whether every dot-separated token of prefix is non-empty and
// already safe (SanitizeToken leaves it unchanged), so the configured prefix is the
// subject prefix verbatim.
func validPrefix(prefix string) bool {
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" || SanitizeToken(tok) != tok {
			return false
		}
	}
	return true
}
