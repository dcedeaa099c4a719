package nabscore

import (
	"math"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
)

// randomCorpus is three files of random scores (quantised to 0.01, so thresholds tie) with
// two or three windows each.
func randomCorpus(rng *rand.Rand) Corpus {
	c := Corpus{Windows: map[string][]datasets.Window{}}
	for k, key := range []string{"a/one.csv", "a/two.csv", "b/three.csv"} {
		n := 200 + 50*k
		f := File{Key: key, Times: make([]time.Time, n), Scores: make([]float64, n)}
		for i := range f.Times {
			f.Times[i] = minute(i)
			f.Scores[i] = math.Round(rng.Float64()*rng.Float64()*100) / 100
		}
		for w := 0; w < 2+k%2; w++ {
			a := 40 + 60*w + rng.Intn(20)
			c.Windows[key] = append(c.Windows[key], datasets.Window{Start: minute(a), End: minute(a + 5 + rng.Intn(15))})
		}
		c.Files = append(c.Files, f)
	}
	return c
}

// TestOptimizeBruteForce checks Optimize against scoring the corpus at 1.1 and at every
// distinct score (keeping the highest threshold of equal scores), for each profile.
func TestOptimizeBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for trial := 0; trial < 5; trial++ {
		c := randomCorpus(rng)
		ths := []float64{1.1}
		for _, f := range c.Files {
			ths = append(ths, f.Scores...)
		}
		slices.Sort(ths)
		slices.Reverse(slices.Compact(ths))
		for _, p := range []Profile{standard, {"low FP", 1, 0.22, 1}, {"low FN", 1, 0.11, 2}} {
			bestTh, bestRaw := math.NaN(), math.Inf(-1)
			for _, th := range ths {
				res, err := c.Score(p, th)
				if err != nil {
					t.Fatal(err)
				}
				if res.Raw > bestRaw+1e-12 {
					bestTh, bestRaw = th, res.Raw
				}
			}
			th, raw, err := c.Optimize(p)
			if err != nil {
				t.Fatal(err)
			}
			if th != bestTh || math.Abs(raw-bestRaw) > 1e-9 {
				t.Errorf("trial %d %s: Optimize %v → %.9f, brute force %v → %.9f", trial, p.Name, th, raw, bestTh, bestRaw)
			}
		}
	}
}

// TestOptimizeNumenta checks, on the Numenta HTM outputs for realKnownCause, that the
// optimised threshold scores what Optimize says and at least as much as NAB's published
// threshold (optimised on the full corpus, so not necessarily best on this part of it).
func TestOptimizeNumenta(t *testing.T) {
	c := numentaCorpus(t)
	ths, err := ReadThresholds(shipped(t, "config/thresholds.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range shippedProfiles(t) {
		th, raw, err := c.Optimize(p)
		if err != nil {
			t.Fatal(err)
		}
		at, err := c.Score(p, th)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := c.Score(p, ths["numenta"][p.Name].Threshold)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: optimised threshold %v raw %.4f (normalised %.2f); published threshold raw %.4f (%.2f)", p.Name, th, raw, at.Normalized, pub.Raw, pub.Normalized)
		if math.Abs(at.Raw-raw) > 1e-9 || raw < pub.Raw {
			t.Errorf("%s: Optimize %.9f, Score at its threshold %.9f, at the published one %.9f", p.Name, raw, at.Raw, pub.Raw)
		}
	}
}
