package operators

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
)

// Test-only components so that pipeline.Parse accepts a full file (input and store
// belong to other packages).
func init() {
	build := func(*pipeline.Conf, *pipeline.Env) (any, error) { return nil, nil }
	pipeline.Register(pipeline.Spec{Kind: pipeline.KindInput, Name: "test", Build: build})
	pipeline.Register(pipeline.Spec{Kind: pipeline.KindStore, Name: "test", Build: build})
}

// runOp runs op over recs (in order) and returns everything it wrote.
func runOp(t *testing.T, op pipeline.Operator, recs ...*pipeline.Record) []*pipeline.Record {
	t.Helper()
	in := make(chan *pipeline.Record, len(recs))
	for _, r := range recs {
		in <- r
	}
	close(in)
	return runChan(t, op, in)
}

// runChan runs op reading from in until it closes and returns its output.
func runChan(t *testing.T, op pipeline.Operator, in <-chan *pipeline.Record) []*pipeline.Record {
	t.Helper()
	out := make(chan *pipeline.Record)
	errc := make(chan error, 1)
	go func() { errc <- op.Run(context.Background(), in, out); close(out) }()
	var got []*pipeline.Record
	for r := range out {
		got = append(got, r)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got
}

// featRec is a live decoded record with features.
func featRec(dev string, f ...float64) *pipeline.Record {
	r := pipeline.NewRecord("t", nil, time.Time{}, nil)
	r.Device, r.Features = dev, f
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !(near(a[i], b[i]) || math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// saveModel writes a small autoencoder (input 2×2: window 2 of temp, hum) to dir.
func saveModel(t *testing.T, dir string) *models.Dense {
	t.Helper()
	d, err := models.NewDense([]int{4, 3, 4}, []models.Activation{models.ActTanh, models.ActLinear}, 1)
	if err != nil {
		t.Fatal(err)
	}
	d.SetMeta(models.Meta{Name: "ae", Kind: models.KindAutoencoder, Features: []string{"temp", "hum"}, Window: 2,
		Scalers:    map[string]models.Scaler{"": {Mean: []float64{20, 50}, Std: []float64{5, 10}}},
		Thresholds: map[string]float64{"": 1e9}})
	if err := d.Save(filepath.Join(dir, "ae.model")); err != nil {
		t.Fatal(err)
	}
	return d
}

const testConfig = `site: s1
fields: [temp, hum]
input: {type: test}
store: {type: test}
summarize: {type: tumbling, window: 1m, close_on_drain: true}
pipeline:
  - type: decode
    device: field:id
    map: {temp: t}
  - type: clean
    ranges: {temp: [-40, 85]}
  - type: normalize
    model: ae.model
  - type: fill
  - type: window
    size: 2
  - type: infer
    model: ae.model
    max_batch: 8
`

// TestBuildChain builds every operator from a parsed file and runs readings through
// the whole chain into the summarizer.
func TestBuildChain(t *testing.T) {
	dir := t.TempDir()
	d := saveModel(t, dir)
	cfg, err := pipeline.Parse(filepath.Join(dir, "p.yaml"), []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	env := &pipeline.Env{Site: "s1", Fields: cfg.Fields(), Dir: dir, Metrics: pipeline.NewMetrics()}
	in := make(chan *pipeline.Record, 8)
	var ch <-chan *pipeline.Record = in
	for _, c := range cfg.Pipeline {
		op, err := c.Spec.Build(c, env)
		if err != nil {
			t.Fatalf("%s: %v", c.Spec.Name, err)
		}
		out := make(chan *pipeline.Record)
		go func(src <-chan *pipeline.Record) {
			if err := op.(pipeline.Operator).Run(context.Background(), src, out); err != nil {
				t.Error(err)
			}
			close(out)
		}(ch)
		ch = out
	}
	sv, err := cfg.Summarize.Spec.Build(cfg.Summarize, env)
	if err != nil {
		t.Fatal(err)
	}
	sum := sv.(pipeline.Summarizer)

	for _, p := range []string{
		`{"id":"a","ts":1700000000,"t":21,"hum":55}`,
		`{"id":"a","ts":1700000001,"t":99,"hum":45}`, // temp out of range → NaN → filled
		`{"id":"a","ts":1700000002,"t":"x"}`,         // dead letter
	} {
		in <- pipeline.NewRecord("sensors/a", []byte(p), time.Now(), nil)
	}
	close(in)
	var got []*pipeline.Record
	for r := range ch {
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3", len(got))
	}
	if got[0].Features != nil || !math.IsNaN(got[0].Score) {
		t.Errorf("first reading: features %v score %v, want nil and NaN (window warming up)", got[0].Features, got[0].Score)
	}
	// z of reading 1: ((21-20)/5, (55-50)/10) = (0.2, 0.5); reading 2: temp filled with 0.2, hum -0.5.
	if want := []float64{0.2, 0.5, 0.2, -0.5}; !sameFloats(got[1].Features, want) {
		t.Errorf("second reading features %v, want %v", got[1].Features, want)
	}
	if math.IsNaN(got[1].Score) || got[1].Model != d.Meta().Version || got[1].Anomaly {
		t.Errorf("second reading: score %v model %q anomaly %v", got[1].Score, got[1].Model, got[1].Anomaly)
	}
	if got[2].DeadLetter != `decode: field "t": "x" is not a number` {
		t.Errorf("third reading dead letter %q", got[2].DeadLetter)
	}
	if s := sum.Add(got); len(s) != 0 {
		t.Errorf("Add closed %d windows, want 0", len(s))
	}
	s := sum.Drain()
	if len(s) != 1 || s[0].Count != 2 || s[0].DeadLetters != 1 || s[0].Scored != 1 || s[0].Site != "s1" {
		t.Fatalf("drained %+v", s)
	}
	if st := s[0].Fields["temp"]; *st.Mean != 21 || st.Missing != 1 {
		t.Errorf("temp stats mean %v missing %d, want 21 and 1", *st.Mean, st.Missing)
	}
}

// TestBuildErrors checks that a bad field is reported at its line in the file.
func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	saveModel(t, dir)
	for _, tc := range []struct{ op, want string }{
		{"{type: clean, ranges: {wind: [0, 1]}}", `p.yaml:7:27: pipeline clean: ranges: "wind" is not a pipeline field`},
		{"{type: decode, device: 'serial:3'}", `p.yaml:7:28: pipeline decode: device: "serial:3": want "topic:N" or "field:NAME"`},
		{"{type: window, size: 0}", `p.yaml:7:26: pipeline window: size: 0 is below the minimum 1`},
		{"{type: normalize, model: missing.model}", `pipeline normalize: model: models: load:`},
		{"{type: infer, model: ae.model, workers: 0}", `pipeline infer: workers: 0 is below the minimum 1`},
	} {
		// Bounds are checked when the file is parsed, the rest when the operator is built.
		cfg, err := pipeline.Parse(filepath.Join(dir, "p.yaml"), []byte(strings.Split(testConfig, "pipeline:\n")[0]+"pipeline:\n  - "+tc.op+"\n"))
		if err == nil {
			c := cfg.Pipeline[0]
			_, err = c.Spec.Build(c, &pipeline.Env{Fields: cfg.Fields(), Dir: dir})
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.op, err, tc.want)
		}
	}
}

// TestBuildChecksFeatureWidths builds whole files with pipeline.Build: the feature widths
// of normalize → fill → window → infer are checked before anything runs, and a mismatch
// is reported at the operator that cannot take its input (`edgepipe lint` shows it).
func TestBuildChecksFeatureWidths(t *testing.T) {
	dir := t.TempDir()
	// The demo's shape: one field, a window of 16 readings, an autoencoder of width 16.
	d, err := models.NewDense([]int{16, 4, 16}, []models.Activation{models.ActTanh, models.ActLinear}, 1)
	if err != nil {
		t.Fatal(err)
	}
	d.SetMeta(models.Meta{Name: "demo", Kind: models.KindAutoencoder, Features: []string{"value"}, Window: 16,
		Scalers: map[string]models.Scaler{"": {Mean: []float64{0}, Std: []float64{1}}}})
	if err := d.Save(filepath.Join(dir, "demo.model")); err != nil {
		t.Fatal(err)
	}
	const head = "site: s1\nfields: [value]\ninput: {type: test}\nstore: {type: test}\nsummarize: {type: tumbling}\npipeline:\n"
	const (
		decode    = "{type: decode, time_unit: ms}"
		clean     = "{type: clean}"
		normalize = "{type: normalize, model: demo.model}"
		fill      = "{type: fill}"
		infer     = "{type: infer, model: demo.model}"
	)
	window := func(n int) string { return fmt.Sprintf("{type: window, size: %d}", n) }
	// Operator i (0-based) is on line 7+i, its mapping at column 5.
	for _, tc := range []struct {
		name string
		ops  []string
		want string // "" for no error
	}{
		{"demo chain", []string{decode, clean, normalize, fill, window(16), infer}, ""},
		{"window 8 for a model of 16", []string{decode, clean, normalize, fill, window(8), infer},
			`p.yaml:12:5: pipeline infer: model "demo" takes 16 features, the stages before infer give 8 (window size × fields)`},
		{"no window", []string{decode, normalize, infer},
			`p.yaml:9:5: pipeline infer: model "demo" takes 16 features, the stages before infer give 1 (window size × fields)`},
		{"no normalize", []string{decode, clean, window(16), infer},
			`p.yaml:9:5: pipeline window: window needs features: put it after normalize`},
		{"fill first", []string{decode, fill, normalize, window(16), infer},
			`p.yaml:8:5: pipeline fill: fill needs features: put it after normalize`},
		{"infer alone", []string{decode, infer},
			`p.yaml:8:5: pipeline infer: infer needs features: put normalize (and window) before it`},
	} {
		yaml := head
		for _, op := range tc.ops {
			yaml += "  - " + op + "\n"
		}
		cfg, err := pipeline.Parse(filepath.Join(dir, "p.yaml"), []byte(yaml))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p, err := pipeline.Build(cfg, pipeline.Env{Dir: dir, Log: slog.New(slog.DiscardHandler)})
		if err == nil {
			p.Close()
		}
		if got := errText(err); !strings.HasSuffix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A floatSlab's slices are zeroed, disjoint and full (an append copies); long ones and
// a nil slab allocate on their own.
func TestFloatSlab(t *testing.T) {
	var s floatSlab
	var got [][]float64
	for i := range 3 * slabFloats / 16 { // three blocks
		x := s.take(16)
		if len(x) != 16 || cap(x) != 16 {
			t.Fatalf("take(16): len %d cap %d", len(x), cap(x))
		}
		for j := range x {
			if x[j] != 0 {
				t.Fatalf("slice %d not zeroed", i)
			}
			x[j] = float64(i)
		}
		got = append(got, x)
	}
	for i, x := range got {
		for _, v := range x {
			if v != float64(i) {
				t.Fatalf("slice %d overwritten: %v", i, x)
			}
		}
	}
	a := s.take(2)
	b := append(a, 7)
	b[0] = 5
	if a[0] != 0 || s.take(1)[0] != 0 {
		t.Fatal("an append wrote into the slab")
	}
	if long := s.take(slabFloats); len(long) != slabFloats {
		t.Fatalf("take(%d): len %d", slabFloats, len(long))
	}
	var none *floatSlab
	if x := none.take(3); len(x) != 3 {
		t.Fatalf("nil slab: len %d", len(x))
	}
}
