package natsconn

import "strings"

// emptyToken stands for an empty site or device id. Sanitize never produces a lone '%'
// (it writes '%' only as the start of a %XX escape), so the mapping stays injective;
// "%00" would not, because a device id holding a NUL byte encodes to it.
const emptyToken = "%"

// Subject returns the NATS subject of a device's summaries:
//
//	<prefix>.<site>.summary.<device>
//
// with each dot-separated token of prefix, and site and device as a whole, passed through
// SanitizeToken. A device id may hold '.', '*', '>', spaces or any UTF-8: it always becomes
// exactly one literal token, and two different ids never share a subject.
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
// non-ASCII byte. The empty string maps to "%". The mapping is injective: decoding the
// %XX escapes gives s back.
func SanitizeToken(s string) string {
	if s == "" {
		return emptyToken
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0F])
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
