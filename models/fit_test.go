package models

import (
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// xor returns the 4 XOR rows repeated reps times and their one-hot targets (class = x0 XOR x1).
func xor(reps int) (x, y *mat.Dense, labels []int) {
	x = mat.NewDense(4*reps, 2, nil)
	for i := range 4 * reps {
		a, b := (i/2)%2, i%2
		x.SetRow(i, []float64{float64(a), float64(b)})
		labels = append(labels, a^b)
	}
	y, _ = OneHot(labels, 2)
	return x, y, labels
}

func TestTrainLearnsXORWithCrossEntropy(t *testing.T) {
	x, y, labels := xor(8)
	opts := DefaultFitOptions()
	opts.LearningRate, opts.Epochs, opts.BatchSize = 0.05, 200, 8
	var first, last EpochStats
	d, h, err := Train(x, y, []LayerSpec{{8, ActTanh}, {2, ActSoftmax}}, LossCrossEntropy, opts, func(s EpochStats) {
		if s.Epoch == 1 {
			first = s
		}
		last = s
	})
	if err != nil {
		t.Fatal(err)
	}
	if acc := Accuracy(d, x, labels); acc != 1 {
		t.Errorf("accuracy %v, want 1 (XOR)", acc)
	}
	// At the start the outputs are near (½, ½): loss ≈ ln 2 ≈ 0.69.
	if !(first.TrainLoss > 0.4 && last.TrainLoss < 0.05) {
		t.Errorf("loss %v at epoch 1, %v at epoch %d: want from ≈ ln 2 to < 0.05", first.TrainLoss, last.TrainLoss, last.Epoch)
	}
	if len(h.Epochs) != 200 || h.Best != 200 || !math.IsNaN(last.ValLoss) || !math.IsNaN(last.ValAccuracy) {
		t.Errorf("history: %d epochs, best %d, last %+v; want 200, 200 and NaN validation figures", len(h.Epochs), h.Best, last)
	}
	// The reported loss is the cross-entropy of the outputs: recompute it after training.
	out := mat.NewDense(32, 2, nil)
	d.Predict(x, out)
	var ce float64
	for i, l := range labels {
		ce -= math.Log(out.At(i, l))
	}
	if got := lossOf(LossCrossEntropy, out, y); math.Abs(got-ce/32) > 1e-12 {
		t.Errorf("lossOf %v, −Σ ln p(true class)/n = %v", got, ce/32)
	}
}

// blobs returns n rows of two Gaussian clusters in 2-D centred at (−2, −2) and (2, 2)
// (σ 1): linearly separable except for the rare overlap.
func blobs(n int, seed int64) (x, y *mat.Dense, labels []int) {
	rng := rand.New(rand.NewSource(seed))
	x = mat.NewDense(n, 2, nil)
	for i := range n {
		c := i % 2
		m := float64(4*c - 2)
		x.SetRow(i, []float64{m + rng.NormFloat64(), m + rng.NormFloat64()})
		labels = append(labels, c)
	}
	y, _ = OneHot(labels, 2)
	return x, y, labels
}

func TestTrainSeparableWithValidation(t *testing.T) {
	x, y, labels := blobs(400, 3)
	opts := DefaultFitOptions()
	opts.ValidationSplit, opts.Epochs, opts.LearningRate = 0.25, 30, 0.01
	var stats []EpochStats
	d, h, err := Train(x, y, []LayerSpec{{4, ActReLU}, {2, ActSoftmax}}, LossCrossEntropy, opts, func(s EpochStats) { stats = append(stats, s) })
	if err != nil {
		t.Fatal(err)
	}
	last := stats[len(stats)-1]
	// Centres 4√2 apart with σ 1: the Bayes error is Φ(−2√2) ≈ 0.2%.
	if !(last.ValAccuracy >= 0.98) || Accuracy(d, x, labels) < 0.98 {
		t.Errorf("validation accuracy %v, overall %v; want ≥ 0.98", last.ValAccuracy, Accuracy(d, x, labels))
	}
	if !(last.ValLoss < stats[0].ValLoss) {
		t.Errorf("validation loss went from %v to %v", stats[0].ValLoss, last.ValLoss)
	}
	// The returned weights are those of the best validation epoch.
	lowest := slices.MinFunc(stats, func(a, b EpochStats) int { return cmpFloat(a.ValLoss, b.ValLoss) })
	if h.Best != lowest.Epoch {
		t.Errorf("best epoch %d, lowest validation loss at epoch %d", h.Best, lowest.Epoch)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestTrainIsReproducible(t *testing.T) {
	x, y, _ := blobs(200, 5)
	opts := DefaultFitOptions()
	opts.ValidationSplit, opts.Epochs, opts.Seed = 0.2, 5, 42
	layers := []LayerSpec{{6, ActTanh}, {2, ActSoftmax}}
	a, ha, err := Train(x, y, layers, LossCrossEntropy, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, hb, err := Train(x, y, layers, LossCrossEntropy, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := params(a), params(b)
	for k := range pa {
		if !slices.Equal(pa[k], pb[k]) {
			t.Fatalf("same seed: parameter block %d differs", k)
		}
	}
	if !slices.Equal(ha.Epochs, hb.Epochs) { // with a split no figure is NaN
		t.Errorf("same seed, histories differ: %v and %v", ha.Epochs, hb.Epochs)
	}
	opts.Seed = 43
	c, _, err := Train(x, y, layers, LossCrossEntropy, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(params(c)[0], pa[0]) {
		t.Error("seeds 42 and 43 gave identical first-layer weights")
	}
}

// TestTrainEarlyStopping trains on random labels, which a wide network memorises: the
// validation loss soon rises, training stops Patience epochs after its minimum, and the
// weights of that minimum are returned.
func TestTrainEarlyStopping(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	x := mat.NewDense(200, 5, nil)
	labels := make([]int, 200)
	for i := range 200 {
		for j := range 5 {
			x.Set(i, j, rng.NormFloat64())
		}
		labels[i] = rng.Intn(2)
	}
	y, _ := OneHot(labels, 2)
	opts := DefaultFitOptions()
	opts.LearningRate, opts.Epochs, opts.BatchSize, opts.ValidationSplit, opts.Patience = 0.01, 300, 16, 0.3, 5
	layers := []LayerSpec{{64, ActReLU}, {2, ActSoftmax}}
	d, h, err := Train(x, y, layers, LossCrossEntropy, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := len(h.Epochs)
	if n >= opts.Epochs || h.Best != n-opts.Patience {
		t.Fatalf("ran %d of %d epochs, best %d: want a stop %d epochs after the best", n, opts.Epochs, h.Best, opts.Patience)
	}
	for _, s := range h.Epochs {
		if s.ValLoss < h.Epochs[h.Best-1].ValLoss {
			t.Errorf("epoch %d has validation loss %v < best epoch %d's %v", s.Epoch, s.ValLoss, h.Best, h.Epochs[h.Best-1].ValLoss)
		}
	}
	// Recompute the validation loss of the returned weights on the same split.
	_, _, val, err := prepare(x, y, layers, LossCrossEntropy, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := evaluate(d, gather(x, val), gather(y, val), LossCrossEntropy)
	if want := h.Epochs[h.Best-1].ValLoss; got != want || got == h.Epochs[n-1].ValLoss {
		t.Errorf("returned weights have validation loss %v; best epoch %v, last epoch %v", got, want, h.Epochs[n-1].ValLoss)
	}
}

func TestTrainMSE(t *testing.T) {
	// y = 2·x0 − x1 + 0.5, learnt by a linear layer.
	x := mat.NewDense(64, 2, nil)
	y := mat.NewDense(64, 1, nil)
	for i := range 64 {
		a, b := math.Sin(float64(i)), math.Cos(float64(3*i))
		x.SetRow(i, []float64{a, b})
		y.Set(i, 0, 2*a-b+0.5)
	}
	opts := DefaultFitOptions()
	opts.LearningRate, opts.Epochs, opts.BatchSize = 0.05, 300, 16
	d, h, err := Train(x, y, []LayerSpec{{1, ActLinear}}, LossMSE, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, b := d.layers[0].W, d.layers[0].B[0]
	if math.Abs(w.At(0, 0)-2) > 1e-3 || math.Abs(w.At(1, 0)+1) > 1e-3 || math.Abs(b-0.5) > 1e-3 {
		t.Errorf("w %v %v b %v, want 2 −1 0.5", w.At(0, 0), w.At(1, 0), b)
	}
	if l := h.Epochs[len(h.Epochs)-1].TrainLoss; l > 1e-6 {
		t.Errorf("final loss %v", l)
	}
}

func TestTrainRejects(t *testing.T) {
	x, y, _ := xor(1)
	ok := []LayerSpec{{4, ActTanh}, {2, ActSoftmax}}
	def := DefaultFitOptions()
	with := func(f func(*FitOptions)) FitOptions { o := def; f(&o); return o }
	nan := mat.DenseCopyOf(x)
	nan.Set(2, 1, math.NaN())
	soft := mat.DenseCopyOf(y)
	soft.Set(1, 0, 0.5)
	for _, c := range []struct {
		name   string
		x, y   *mat.Dense
		layers []LayerSpec
		loss   Loss
		opts   FitOptions
		want   string
	}{
		{"rows", x, mat.NewDense(3, 2, nil), ok, LossMSE, def, "4 input rows and 3 target rows"},
		{"no layers", x, y, nil, LossMSE, def, "no layers"},
		{"width", x, y, []LayerSpec{{3, ActSoftmax}}, LossMSE, def, "output layer width 3, the targets have 2 columns"},
		{"loss", x, y, ok, "hinge", def, `loss "hinge"`},
		{"ce without softmax", x, y, []LayerSpec{{2, ActSigmoid}}, LossCrossEntropy, def, "needs a softmax output layer"},
		{"activation", x, y, []LayerSpec{{2, "swish"}}, LossMSE, def, `unknown activation "swish"`},
		{"nan input", nan, y, ok, LossMSE, def, "input row 2 column 1 is NaN"},
		{"not a distribution", x, soft, ok, LossCrossEntropy, def, "target row 1 sums to 1.5"},
		{"lr", x, y, ok, LossMSE, with(func(o *FitOptions) { o.LearningRate = 0 }), "learning rate 0"},
		{"beta1", x, y, ok, LossMSE, with(func(o *FitOptions) { o.Beta1 = 1 }), "beta1 1"},
		{"beta2", x, y, ok, LossMSE, with(func(o *FitOptions) { o.Beta2 = -0.1 }), "beta2 -0.1"},
		{"epsilon", x, y, ok, LossMSE, with(func(o *FitOptions) { o.Epsilon = 0 }), "epsilon 0"},
		{"batch", x, y, ok, LossMSE, with(func(o *FitOptions) { o.BatchSize = 0 }), "batch size 0"},
		{"epochs", x, y, ok, LossMSE, with(func(o *FitOptions) { o.Epochs = 0 }), "epochs 0"},
		{"split", x, y, ok, LossMSE, with(func(o *FitOptions) { o.ValidationSplit = 1 }), "validation split 1"},
		{"tiny split", x, y, ok, LossMSE, with(func(o *FitOptions) { o.ValidationSplit = 0.1 }), "leaves 0 validation and 4 training rows"},
		{"patience", x, y, ok, LossMSE, with(func(o *FitOptions) { o.Patience = -1 }), "patience -1"},
		{"diverged", x, y, []LayerSpec{{2, ActLinear}}, LossMSE, with(func(o *FitOptions) { o.LearningRate = 1e300 }), "diverged"},
	} {
		_, _, err := Train(c.x, c.y, c.layers, c.loss, c.opts, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestOneHotArgMaxAccuracy(t *testing.T) {
	y, err := OneHot([]int{2, 0}, 3)
	if err != nil || !mat.Equal(y, mat.NewDense(2, 3, []float64{0, 0, 1, 1, 0, 0})) {
		t.Errorf("OneHot: %v %v", mat.Formatted(y), err)
	}
	if _, err := OneHot([]int{3}, 3); err == nil || !strings.Contains(err.Error(), "label 3 of row 0") {
		t.Errorf("OneHot out of range: %v", err)
	}
	if ArgMax([]float64{0.1, 0.7, 0.7}) != 1 || ArgMax(nil) != -1 {
		t.Error("ArgMax: want the first largest, -1 for none")
	}
	// A linear 2→2 identity network: the class is the larger input.
	d := &Dense{layers: []layer{{W: mat.NewDense(2, 2, []float64{1, 0, 0, 1}), B: []float64{0, 0}, Act: ActLinear}}}
	x := mat.NewDense(4, 2, []float64{1, 0, 0, 1, 3, 2, 2, 3})
	if acc := Accuracy(d, x, []int{0, 1, 1, 1}); acc != 0.75 {
		t.Errorf("Accuracy %v, want 0.75", acc)
	}
}
