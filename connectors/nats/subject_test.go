package natsconn

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestSubject(t *testing.T) {
	cases := []struct {
		name, prefix, site, device, want string
	}{
		{"plain", "edgepipe", "plant-1", "sensor_07", "edgepipe.plant-1.summary.sensor_07"},
		{"dot in device", "edgepipe", "s", "a.b", "edgepipe.s.summary.a%2Eb"},
		{"wildcards", "edgepipe", "s", "*", "edgepipe.s.summary.%2A"},
		{"full wildcard", "edgepipe", "s", ">", "edgepipe.s.summary.%3E"},
		{"space", "edgepipe", "s", "dev 1", "edgepipe.s.summary.dev%201"},
		{"slash", "edgepipe", "s", "room/3", "edgepipe.s.summary.room%2F3"},
		{"percent", "edgepipe", "s", "50%", "edgepipe.s.summary.50%25"},
		{"quotes", "edgepipe", "s", `"x'`, "edgepipe.s.summary.%22x%27"},
		{"unicode", "edgepipe", "s", "température", "edgepipe.s.summary.temp%C3%A9rature"},
		{"tab and newline", "edgepipe", "s", "a\tb\n", "edgepipe.s.summary.a%09b%0A"},
		{"empty device", "edgepipe", "s", "", "edgepipe.s.summary.%"},
		{"nul device", "edgepipe", "s", "\x00", "edgepipe.s.summary.%00"},
		{"site sanitised", "edgepipe", "plant.1 >", "d", "edgepipe.plant%2E1%20%3E.summary.d"},
		{"multi-token prefix kept", "acme.edgepipe", "s", "d", "acme.edgepipe.s.summary.d"},
		{"prefix wildcard escaped", "a.*", "s", "d", "a.%2A.s.summary.d"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Subject(c.prefix, c.site, c.device)
			if got != c.want {
				t.Fatalf("Subject(%q, %q, %q) = %q, want %q", c.prefix, c.site, c.device, got, c.want)
			}
			if strings.ContainsAny(got, "*> \t\r\n") {
				t.Fatalf("subject %q holds a wildcard or whitespace", got)
			}
			prefixTokens := strings.Count(c.prefix, ".") + 1
			if n := strings.Count(got, ".") + 1; n != prefixTokens+3 {
				t.Fatalf("subject %q has %d tokens, want %d", got, n, prefixTokens+3)
			}
		})
	}
}

// TestSanitizeTokenInjective checks that distinct ids never share a token, including
// the ids that naive schemes confuse (empty vs NUL vs "%", "a.b" vs "a_b" vs "a%2Eb").
func TestSanitizeTokenInjective(t *testing.T) {
	ids := []string{"", "\x00", "%", "%00", "%25", "a.b", "a_b", "a-b", "a%2Eb", "a%2eb", "a b", "a*b", "a>b",
		"A.B", "é", "e\u0301", "%C3%A9", ".", "..", "*", ">", "_", "-", "dev1", "Dev1"}
	for b := 0; b < 256; b++ {
		ids = append(ids, string([]byte{byte(b)}), "x"+string([]byte{byte(b)}))
	}
	seen := map[string]string{}
	for _, id := range ids {
		tok := SanitizeToken(id)
		if prev, dup := seen[tok]; dup && prev != id {
			t.Fatalf("ids %q and %q both map to %q", prev, id, tok)
		}
		seen[tok] = id
		if strings.ContainsAny(tok, ".*> ") || tok == "" {
			t.Fatalf("SanitizeToken(%q) = %q is not a single literal token", id, tok)
		}
	}
}

func TestValidPrefix(t *testing.T) {
	for p, want := range map[string]bool{
		"edgepipe": true, "acme.edgepipe": true, "a_b-c": true,
		"": false, "a..b": false, ".a": false, "a.": false, "a.*": false, "a.>": false, "a b": false, "é": false,
	} {
		if got := validPrefix(p); got != want {
			t.Errorf("validPrefix(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestSanitizeTokenLongIDs: ids of up to 256 bytes are escaped in full; a longer one
// (10,000 bytes of 'x', or of 'é') becomes the escape of its first 200 bytes, '~' and
// its SHA-256, so the subject stays one token far below the server's 4096-byte control
// line, and ids that differ only in their last byte, or only beyond byte 200, get
// different tokens.
func TestSanitizeTokenLongIDs(t *testing.T) {
	x256 := strings.Repeat("x", 256)
	if got := SanitizeToken(x256); got != x256 {
		t.Fatalf("a 256-byte id was not kept verbatim: %d bytes", len(got))
	}
	long := strings.Repeat("x", 10000)
	sum := sha256.Sum256([]byte(long))
	want := strings.Repeat("x", 200) + "~" + hex.EncodeToString(sum[:])
	if got := SanitizeToken(long); got != want {
		t.Fatalf("SanitizeToken(10,000 × x) = %q, want %q", got, want)
	}
	const maxControlLine = 4096 // nats-server default max_control_line
	seen := map[string]string{}
	for _, id := range []string{long, long[:9999] + "y", x256 + "x", x256 + "y", strings.Repeat("é", 5000),
		strings.Repeat("é", 5000) + "x", x256[:200] + "%" + x256} {
		subj := Subject("edgepipe", "plant-1", id)
		tok := strings.TrimPrefix(subj, "edgepipe.plant-1.summary.")
		if len(tok) > 3*maxVerbatim || strings.ContainsAny(tok, ".*> ") || len(subj)+64 > maxControlLine {
			t.Fatalf("id of %d bytes: subject of %d bytes, token %q…", len(id), len(subj), tok[:40])
		}
		if prev, dup := seen[tok]; dup {
			t.Fatalf("ids of %d and %d bytes share token %q", len(prev), len(id), tok)
		}
		seen[tok] = id
		if !strings.ContainsRune(tok, hashMark) {
			t.Fatalf("id of %d bytes: token %q… has no hash", len(id), tok[:40])
		}
	}
}
