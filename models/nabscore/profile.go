package nabscore

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
)

// Profile is one NAB application profile: the weights of a true positive (a detected
// window), a false positive (a detection outside every window) and a false negative (a
// missed window). NAB v1.1 ships three in config/profiles.json: standard (TP 1, FP 0.11,
// FN 1), reward_low_FP_rate (FP 0.22) and reward_low_FN_rate (FN 2).
type Profile struct {
	Name       string
	TP, FP, FN float64
}

// ReadProfiles reads NAB's config/profiles.json ({"<name>": {"CostMatrix": {"tpWeight":
// …, "fpWeight": …, "fnWeight": …, "tnWeight": …}}}; tnWeight is unused by NAB's scorer).
// It returns the profiles in NAB's order (standard, reward_low_FP_rate, reward_low_FN_rate),
// any others after them by name. It returns an error
// for malformed JSON, no profiles, or a missing or negative weight.
func ReadProfiles(r io.Reader) ([]Profile, error) {
	var raw map[string]struct {
		CostMatrix map[string]float64
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("nabscore: profiles: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("nabscore: profiles: none")
	}
	var out []Profile
	for name, p := range raw {
		var w [3]float64
		for i, k := range []string{"tpWeight", "fpWeight", "fnWeight"} {
			v, ok := p.CostMatrix[k]
			if !ok || !(v >= 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("nabscore: profiles: %s: %s missing or not a finite weight ≥ 0", name, k)
			}
			w[i] = v
		}
		out = append(out, Profile{Name: name, TP: w[0], FP: w[1], FN: w[2]})
	}
	rank := func(name string) int {
		if i := slices.Index([]string{"standard", "reward_low_FP_rate", "reward_low_FN_rate"}, name); i >= 0 {
			return i
		}
		return 3
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Name), rank(out[j].Name); ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
