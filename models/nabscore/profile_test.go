package nabscore

import (
	"strings"
	"testing"
)

// TestReadProfiles reads NAB's shipped config/profiles.json.
func TestReadProfiles(t *testing.T) {
	got := shippedProfiles(t)
	want := []Profile{{"standard", 1, 0.11, 1}, {"reward_low_FP_rate", 1, 0.22, 1}, {"reward_low_FN_rate", 1, 0.11, 2}}
	if len(got) != len(want) {
		t.Fatalf("profiles %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("profile %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for in, msg := range map[string]string{
		`{}`: "none",
		`{"x": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1}}}`:                 "x: fpWeight missing",
		`{"x": {"CostMatrix": {"tpWeight": 1, "fpWeight": -1, "fnWeight": 1}}}`: "x: fpWeight missing or not a finite weight ≥ 0",
		`[1]`: "profiles: json",
	} {
		if _, err := ReadProfiles(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want one containing %q", in, err, msg)
		}
	}
}
