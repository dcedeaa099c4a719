package pipeline

import "testing"

// TestTopLevelEnumIsChecked checks that a top-level key with allowed values (log_level)
// refuses another value at its position, and reads back an allowed one.
func TestTopLevelEnumIsChecked(t *testing.T) {
	_, err := Parse("p.yaml", []byte("log_level: loud\n"+diffBase))
	if err == nil || err.Error() != `p.yaml:1:12: log_level: "loud" is not one of debug, info, warn, error` {
		t.Fatalf("log_level: loud: %v", err)
	}
	cfg, err := Parse("p.yaml", []byte("log_level: warn\n"+diffBase))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Top.String(KeyLogLevel); got != "warn" {
		t.Fatalf("log_level = %q, want warn", got)
	}
}
