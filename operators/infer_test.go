package operators

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gonum.org/v1/gonum/mat"
)

// halfModel is a test autoencoder of width w that reconstructs x as x/2, so a row's
// score is mean((x/2)²). A batch whose first value is odd sleeps 1 ms, so that parallel
// workers finish batches out of order.
type halfModel struct {
	w    int
	meta models.Meta
}

func (m *halfModel) Predict(in, out *mat.Dense) {
	if int(in.At(0, 0))%2 == 1 {
		time.Sleep(time.Millisecond)
	}
	out.Scale(0.5, in)
}
func (m *halfModel) InputWidth() int   { return m.w }
func (m *halfModel) OutputWidth() int  { return m.w }
func (m *halfModel) Meta() models.Meta { return m.meta }
func newHalf() *halfModel {
	return &halfModel{w: 2, meta: models.Meta{Name: "half", Kind: models.KindAutoencoder, Version: "v1",
		Thresholds: map[string]float64{"": 10, "strict": 1}}}
}

// identityModel is a test classifier that outputs its input as the class scores.
type identityModel struct{ meta models.Meta }

func (m *identityModel) Predict(in, out *mat.Dense) { out.Copy(in) }
func (m *identityModel) InputWidth() int            { return 3 }
func (m *identityModel) OutputWidth() int           { return 3 }
func (m *identityModel) Meta() models.Meta          { return m.meta }

func histogram(t *testing.T, h prometheus.Histogram) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// startInfer runs op on a fresh input channel; stop closes the input and returns Run's
// error once it has returned.
func startInfer(t *testing.T, op *Infer, buffered int) (in chan *pipeline.Record, out chan *pipeline.Record, stop func() error) {
	in, out = make(chan *pipeline.Record, buffered), make(chan *pipeline.Record, 1024)
	errc := make(chan error, 1)
	go func() { errc <- op.Run(context.Background(), in, out) }()
	return in, out, func() error { close(in); return <-errc }
}

func receive(t *testing.T, out <-chan *pipeline.Record, n int) []*pipeline.Record {
	t.Helper()
	var got []*pipeline.Record
	for len(got) < n {
		select {
		case r := <-out:
			got = append(got, r)
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d records, want %d", len(got), n)
		}
	}
	return got
}

func TestInferBatchClosedBySize(t *testing.T) {
	metrics := pipeline.NewMetrics()
	op, err := NewInfer(newHalf(), InferOptions{MaxBatch: 4, MaxDelay: time.Hour, Workers: 2, Queue: 16}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	in, out, stop := startInfer(t, op, 8)
	for i := range 8 {
		in <- featRec("a", float64(2*i), 0)
	}
	// With a one-hour delay the 8 records can only come out as two full batches.
	receive(t, out, 8)
	if n, sum := histogram(t, metrics.BatchSize); n != 2 || sum != 8 {
		t.Errorf("batch size histogram: %d batches, %v rows; want 2 and 8", n, sum)
	}
	if n, _ := histogram(t, metrics.InferSeconds); n != 2 {
		t.Errorf("infer seconds observed %d times, want 2", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestInferBatchClosedByDelay(t *testing.T) {
	metrics := pipeline.NewMetrics()
	op, err := NewInfer(newHalf(), InferOptions{MaxBatch: 100, MaxDelay: 20 * time.Millisecond, Workers: 2, Queue: 1024}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	in, out, stop := startInfer(t, op, 3)
	for i := range 3 {
		in <- featRec("a", float64(2*i), 0)
	}
	// The input stays open: the batch of 3 can only close on max_delay.
	receive(t, out, 3)
	if n, sum := histogram(t, metrics.BatchSize); n != 1 || sum != 3 {
		t.Errorf("batch size histogram: %d batches, %v rows; want 1 and 3", n, sum)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestInferFlushesOnClose(t *testing.T) {
	op, err := NewInfer(newHalf(), InferOptions{MaxBatch: 100, MaxDelay: time.Hour, Workers: 1, Queue: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := runOp(t, op, featRec("a", 2, 4), featRec("a", 4, 8))
	// x = (2, 4): out (1, 2): ((1)² + (2)²)/2 = 2.5; x = (4, 8): (4 + 16)/2 = 10.
	if len(got) != 2 || got[0].Score != 2.5 || got[1].Score != 10 {
		t.Fatalf("got %d records, scores %v %v; want 2.5 and 10", len(got), got[0].Score, got[1].Score)
	}
}

func TestInferOrderAndScores(t *testing.T) {
	op, err := NewInfer(newHalf(), InferOptions{MaxBatch: 3, MaxDelay: time.Millisecond, Workers: 2, Queue: 6}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*pipeline.Record
	for i := range 300 {
		x := float64(i % 9)
		r := featRec("a", x, 2*x)
		switch {
		case i%7 == 3:
			r.Features = nil // window warming up: rides along unscored
		case i%11 == 5:
			r.Fail("clean: every field missing")
		case i%13 == 0:
			r.Device = "strict"
		case i%17 == 1:
			r.Features = []float64{1, 2, 3}
		}
		recs = append(recs, r)
	}
	got := runOp(t, op, recs...)
	if len(got) != len(recs) {
		t.Fatalf("got %d records, want %d", len(got), len(recs))
	}
	for i, r := range got {
		if r != recs[i] {
			t.Fatalf("record %d out of order", i)
		}
		x := float64(i % 9)
		// Row (x, 2x) reconstructed as (x/2, x): MSE = ((x/2)² + x²)/2 = 0.625·x².
		want, anomaly := 0.625*x*x, 0.625*x*x > 10
		if r.Device == "strict" {
			anomaly = want > 1
		}
		switch {
		case i%7 == 3:
			if !math.IsNaN(r.Score) || r.Dead() || r.Model != "" {
				t.Errorf("record %d (unscored): score %v dead %q model %q", i, r.Score, r.DeadLetter, r.Model)
			}
		case i%11 == 5:
			if r.DeadLetter != "clean: every field missing" || !math.IsNaN(r.Score) {
				t.Errorf("record %d (dead): %q score %v", i, r.DeadLetter, r.Score)
			}
		case i%17 == 1 && i%13 != 0:
			if r.DeadLetter != `infer: 3 features, model "half" takes 2 (check the window size and the model's features)` {
				t.Errorf("record %d (wrong width): %q", i, r.DeadLetter)
			}
		default:
			if !near(r.Score, want) || r.Anomaly != anomaly || r.Model != "v1" || r.Output != nil {
				t.Errorf("record %d x=%v device %s: score %v anomaly %v model %q; want %v %v v1", i, x, r.Device, r.Score, r.Anomaly, r.Model, want, anomaly)
			}
		}
	}
}

func TestInferClassifier(t *testing.T) {
	m := &identityModel{meta: models.Meta{Name: "cls", Kind: models.KindClassifier, Version: "c1", Classes: []string{"low", "mid", "high"}}}
	op, err := NewInfer(m, InferOptions{MaxBatch: 2, MaxDelay: time.Millisecond, Workers: 1, Queue: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := runOp(t, op, featRec("a", 0.2, 0.7, 0.1), featRec("a", 0.1, 0.3, 0.6))
	for i, want := range []struct {
		label string
		score float64
		out   []float64
	}{{"mid", 0.7, []float64{0.2, 0.7, 0.1}}, {"high", 0.6, []float64{0.1, 0.3, 0.6}}} {
		r := got[i]
		if r.Label != want.label || r.Score != want.score || !sameFloats(r.Output, want.out) || r.Model != "c1" || r.Anomaly {
			t.Errorf("record %d: label %q score %v output %v model %q", i, r.Label, r.Score, r.Output, r.Model)
		}
	}
}

func TestInferOptionErrors(t *testing.T) {
	ok := InferOptions{MaxBatch: 1, Workers: 1, Queue: 1}
	badCls := &identityModel{meta: models.Meta{Kind: models.KindClassifier, Classes: []string{"a", "b"}}}
	badKind := &identityModel{meta: models.Meta{Kind: "regressor"}}
	for _, tc := range []struct {
		m     models.Model
		o     InferOptions
		field string
	}{
		{newHalf(), InferOptions{MaxBatch: 0, Workers: 1, Queue: 1}, fieldMaxBatch},
		{newHalf(), InferOptions{MaxBatch: 1, Workers: 0, Queue: 1}, fieldWorkers},
		{newHalf(), InferOptions{MaxBatch: 1, Workers: 1, Queue: 0}, fieldQueue},
		{badCls, ok, fieldModel},
		{badKind, ok, fieldModel},
	} {
		_, err := NewInfer(tc.m, tc.o, nil)
		if oe, isOE := err.(*OptionError); !isOE || oe.Field != tc.field {
			t.Errorf("%+v: error %v, want an OptionError on %s", tc.o, err, tc.field)
		}
	}
}

func TestInferStopsOnCancel(t *testing.T) {
	op, err := NewInfer(newHalf(), InferOptions{MaxBatch: 1, MaxDelay: time.Hour, Workers: 1, Queue: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in, out := make(chan *pipeline.Record, 10), make(chan *pipeline.Record) // nobody reads out
	for range 10 {
		in <- featRec("a", 2, 2)
	}
	errc := make(chan error, 1)
	go func() { errc <- op.Run(ctx, in, out) }()
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

// BenchmarkInfer measures records per second through infer with a 32-16-32 dense
// autoencoder (a window of 8 readings of 4 fields), default batching options.
func BenchmarkInfer(b *testing.B) {
	d, err := models.NewDense([]int{32, 16, 32}, []models.Activation{models.ActTanh, models.ActLinear}, 1)
	if err != nil {
		b.Fatal(err)
	}
	d.SetMeta(models.Meta{Name: "bench", Kind: models.KindAutoencoder, Features: []string{"a", "b", "c", "d"}, Window: 8})
	op, err := NewInfer(d, InferOptions{MaxBatch: 64, MaxDelay: 5 * time.Millisecond, Workers: 2, Queue: 1024}, pipeline.NewMetrics())
	if err != nil {
		b.Fatal(err)
	}
	feats := make([]float64, 32)
	in, out := make(chan *pipeline.Record, 1024), make(chan *pipeline.Record, 1024)
	done := make(chan error, 1)
	go func() { done <- op.Run(context.Background(), in, out) }()
	go func() {
		for i := 0; i < b.N; i++ {
			in <- featRec("a", feats...)
		}
		close(in)
	}()
	for i := 0; i < b.N; i++ {
		<-out
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// finiteSpy is halfModel recording whether Predict ever got a NaN or ±Inf input.
type finiteSpy struct {
	halfModel
	sawNonFinite bool
}

func (m *finiteSpy) Predict(in, out *mat.Dense) {
	for _, v := range in.RawMatrix().Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			m.sawNonFinite = true
		}
	}
	out.Scale(0.5, in)
}

// A NaN or ±Inf feature never reaches the model, and a score that overflows is no score:
// such readings pass unscored (Score NaN, Model "") and are counted by reason.
func TestInferNothingNonFiniteInOrOut(t *testing.T) {
	m := &finiteSpy{halfModel: *newHalf()}
	metrics := pipeline.NewMetrics()
	op, err := NewInfer(m, InferOptions{MaxBatch: 8, MaxDelay: time.Millisecond, Workers: 1, Queue: 8}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	got := runOp(t, op,
		featRec("a", 2, 4),            // score mean((1, 2)²) = 2.5
		featRec("a", math.NaN(), 4),   // not given to the model
		featRec("a", math.Inf(-1), 4), // not given to the model
		featRec("a", 1e200, 4),        // (5e199)² overflows: no score
		featRec("a", 6, 2),            // score mean((3, 1)²) = 5
	)
	if m.sawNonFinite {
		t.Error("the model was given a non-finite input")
	}
	for i, want := range []float64{2.5, math.NaN(), math.NaN(), math.NaN(), 5} {
		r := got[i]
		scored := !math.IsNaN(want)
		if !sameFloats([]float64{r.Score}, []float64{want}) || (r.Model == "v1") != scored || r.Dead() || (r.Anomaly && !scored) {
			t.Errorf("record %d: score %v model %q anomaly %v dead %q; want score %v", i, r.Score, r.Model, r.Anomaly, r.DeadLetter, want)
		}
	}
	for reason, want := range map[string]float64{unscoredFeatures: 2, unscoredOutput: 1} {
		var d dto.Metric
		if err := metrics.Unscored.WithLabelValues(reason).Write(&d); err != nil {
			t.Fatal(err)
		}
		if d.GetCounter().GetValue() != want {
			t.Errorf("edgepipe_unscored_total{reason=%q} = %v, want %v", reason, d.GetCounter().GetValue(), want)
		}
	}
}

// overflowModel is a test classifier of width 3 whose class scores are its input × 1e300.
type overflowModel struct{ identityModel }

func (m *overflowModel) Predict(in, out *mat.Dense) { out.Scale(1e300, in) }

// A classifier labels nothing when an input feature or an output score is not finite.
func TestInferClassifierNonFinite(t *testing.T) {
	m := &overflowModel{identityModel{meta: models.Meta{Name: "cls", Kind: models.KindClassifier, Version: "c1", Classes: []string{"low", "mid", "high"}}}}
	op, err := NewInfer(m, InferOptions{MaxBatch: 3, MaxDelay: time.Millisecond, Workers: 1, Queue: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := runOp(t, op, featRec("a", 0.2, math.Inf(1), 0.1), featRec("a", 0.2, 1e10, 0.1), featRec("a", 0.1, 0.3, 0.6))
	for i, r := range got[:2] {
		if r.Label != "" || !math.IsNaN(r.Score) || r.Model != "" || r.Output != nil {
			t.Errorf("record %d: label %q score %v model %q output %v, want unlabelled", i, r.Label, r.Score, r.Model, r.Output)
		}
	}
	if got[2].Label != "high" || got[2].Model != "c1" || got[2].Score != 0.6e300 {
		t.Errorf("record 2: label %q score %v model %q, want high 6e299 c1", got[2].Label, got[2].Score, got[2].Model)
	}
}
