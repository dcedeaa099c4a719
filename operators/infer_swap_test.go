package operators

import (
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gonum.org/v1/gonum/mat"
)

// TestInferHotSwap feeds readings through a watching infer operator while its model file
// is replaced by a new model, then by a truncated file. Every reading comes out exactly
// once and in order, scored by the model whose version it carries (recomputed here);
// versions change once, from the old to the new model, and the truncated file changes
// nothing.
func TestInferHotSwap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ae.model")
	a, b := aeModel(t, 1, 20, 50), aeModel(t, 2, 20, 50)
	save(t, a, path)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := pipeline.NewMetrics()
	f, err := OpenModelFile(path, log, m)
	if err != nil {
		t.Fatal(err)
	}
	f.delay = 20 * time.Millisecond
	op, err := newFileInfer(f, true, InferOptions{MaxBatch: 8, MaxDelay: time.Millisecond, Workers: 2, Queue: 64}, m, log)
	if err != nil {
		t.Fatal(err)
	}
	in, out := make(chan *pipeline.Record), make(chan *pipeline.Record, 64)
	runErr := make(chan error, 1)
	go func() { runErr <- op.Run(context.Background(), in, out); close(out) }()
	stop := make(chan struct{})
	fed := make(chan int, 1)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	go func() { // the sensor: one reading every 100 µs until stop
		i := 0
		defer func() { close(in); fed <- i }()
		for {
			r := pipeline.NewRecord("t", nil, time.Now(), nil)
			r.Device, r.Time = "d", base.Add(time.Duration(i)*time.Second)
			r.Features = []float64{math.Sin(float64(i)), math.Cos(float64(i)), float64(i%5) / 5, -1}
			select {
			case in <- r:
				i++
			case <-stop:
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()

	var got []*pipeline.Record
	next := func() *pipeline.Record {
		select {
		case r, ok := <-out:
			if !ok {
				t.Fatal("infer ended early")
			}
			got = append(got, r)
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("no record for 10 s after %d", len(got))
		}
		return nil
	}
	for len(got) < 50 {
		next()
	}
	// Replace the file until the watcher, which starts with Run, has seen it; a second
	// save of the same model is no swap.
	swapped := false
	for tries := 0; !swapped; tries++ {
		if tries == 20 {
			t.Fatal("the new model never served")
		}
		save(t, b, path)
		for deadline := time.Now().Add(500 * time.Millisecond); !swapped && time.Now().Before(deadline); {
			swapped = next().Model == b.Meta().Version
		}
	}
	for range 50 {
		next()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil { // in place: a torn copy
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(m.ModelSwaps.WithLabelValues("rejected")) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the truncated file was not rejected")
		}
		next()
	}
	for range 50 {
		next()
	}
	close(stop)
	n := <-fed
	for r := range out {
		got = append(got, r)
	}
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}

	if len(got) != n {
		t.Fatalf("%d records out, %d in", len(got), n)
	}
	byVersion := map[string]*models.Dense{a.Meta().Version: a, b.Meta().Version: b}
	counts := map[string]int{}
	for i, r := range got {
		if want := base.Add(time.Duration(i) * time.Second); !r.Time.Equal(want) {
			t.Fatalf("record %d is the reading of %v: lost, repeated or reordered", i, r.Time)
		}
		model, ok := byVersion[r.Model]
		if !ok {
			t.Fatalf("record %d carries version %q, of no model loaded", i, r.Model)
		}
		if i > 0 && r.Model == a.Meta().Version && got[i-1].Model == b.Meta().Version {
			t.Fatalf("record %d scored by the old model after the new one served", i)
		}
		counts[r.Model]++
		x := mat.NewDense(1, 4, r.Features)
		y := mat.NewDense(1, 4, nil)
		model.Predict(x, y)
		errs := make([]float64, 1)
		models.ReconstructionErrors(x, y, errs)
		// Within float32 rounding: a row's sums may run in another order in a batch.
		if math.Abs(r.Score-errs[0]) > 1e-5*math.Abs(errs[0]) {
			t.Fatalf("record %d: score %v, model %s gives %v", i, r.Score, r.Model, errs[0])
		}
	}
	if counts[a.Meta().Version] < 50 || counts[b.Meta().Version] < 100 {
		t.Errorf("records per version %v: want ≥ 50 old, ≥ 100 new", counts)
	}
	if ok, rej := testutil.ToFloat64(m.ModelSwaps.WithLabelValues("ok")), testutil.ToFloat64(m.ModelSwaps.WithLabelValues("rejected")); ok != 1 || rej < 1 {
		t.Errorf("swaps ok %v rejected %v, want 1 and ≥ 1", ok, rej)
	}
	if f.Current().Meta().Version != b.Meta().Version {
		t.Errorf("serving %s after the truncated file, want %s", f.Current().Meta().Version, b.Meta().Version)
	}
	for _, want := range []string{"model swapped from " + a.Meta().Version + " to " + b.Meta().Version, "truncated"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}
