package models

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// LayerSpec is one fully connected layer of a network to train: its output width and
// activation.
type LayerSpec struct {
	Width      int
	Activation Activation
}

// FitOptions configure Train's optimisation: mini-batch Adam (Kingma & Ba, "Adam: A Method
// for Stochastic Optimization", ICLR 2015), a validation split and early stopping.
type FitOptions struct {
	// LearningRate is Adam's step size α (> 0); Beta1 and Beta2 the decay rates of its first
	// and second moment estimates (in [0, 1)); Epsilon the term added to the denominator
	// (> 0).
	LearningRate, Beta1, Beta2, Epsilon float64
	// BatchSize is the number of rows per Adam step (≥ 1; the last batch of an epoch may be
	// smaller); Epochs the maximum number of passes over the training rows (≥ 1).
	BatchSize, Epochs int
	// ValidationSplit is the fraction of the rows, in [0, 1), held out of training to
	// compute the validation loss after each epoch: round(split·n) rows drawn with the
	// seeded generator. With a split, Train returns the weights of the epoch with the lowest
	// validation loss. 0 trains on every row and returns the last weights.
	ValidationSplit float64
	// Patience, when > 0 and there is a validation split, stops training after Patience
	// epochs in a row without a lower validation loss (early stopping, Prechelt, "Early
	// Stopping — But When?", 1998). 0 always runs Epochs epochs.
	Patience int
	// Seed makes training reproducible: the initial weights (NewDense), the validation
	// split and the order of the rows in each epoch come from generators seeded with it, so
	// the same seed, data and options give identical weights.
	Seed int64
}

// DefaultFitOptions returns Adam with the paper's defaults (α 0.001, β1 0.9, β2 0.999,
// ε 1e-8), batches of 32, 10 epochs, no validation split, seed 1.
func DefaultFitOptions() FitOptions {
	return FitOptions{LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, BatchSize: 32, Epochs: 10, Seed: 1}
}

func (o FitOptions) check() error {
	switch {
	case !(o.LearningRate > 0) || math.IsInf(o.LearningRate, 0):
		return fmt.Errorf("learning rate %v, want > 0", o.LearningRate)
	case !(o.Beta1 >= 0 && o.Beta1 < 1):
		return fmt.Errorf("beta1 %v, want in [0, 1)", o.Beta1)
	case !(o.Beta2 >= 0 && o.Beta2 < 1):
		return fmt.Errorf("beta2 %v, want in [0, 1)", o.Beta2)
	case !(o.Epsilon > 0) || math.IsInf(o.Epsilon, 0):
		return fmt.Errorf("epsilon %v, want > 0", o.Epsilon)
	case o.Epochs < 1:
		return fmt.Errorf("epochs %d, want ≥ 1", o.Epochs)
	case o.BatchSize < 1:
		return fmt.Errorf("batch size %d, want ≥ 1", o.BatchSize)
	case !(o.ValidationSplit >= 0 && o.ValidationSplit < 1):
		return fmt.Errorf("validation split %v, want in [0, 1)", o.ValidationSplit)
	case o.Patience < 0:
		return fmt.Errorf("patience %d, want ≥ 0", o.Patience)
	}
	return nil
}

// EpochStats is what Train reports after each epoch.
type EpochStats struct {
	// Epoch counts from 1.
	Epoch int
	// TrainLoss is the mean loss of the epoch's batches, weighted by their rows (measured
	// while the weights change, as usual).
	TrainLoss float64
	// ValLoss is the loss on the validation rows after the epoch; NaN without a split.
	ValLoss float64
	// ValAccuracy is the fraction of validation rows whose largest output is the largest
	// target (Accuracy), for LossCrossEntropy with a split; NaN otherwise.
	ValAccuracy float64
}

// History is the record of a Train run.
type History struct {
	// Epochs has one entry per epoch run; fewer than FitOptions.Epochs when training
	// stopped early.
	Epochs []EpochStats
	// Best is the epoch (1-based) whose weights Train returned: the lowest validation loss
	// with a split, else the last epoch.
	Best int
}

// Train trains a new network on inputs x (n × in) and targets y (n × out). layers are the
// layers after the input (the last one's Width must be out); the weights start as NewDense
// draws them with opts.Seed. Training minimises loss with mini-batch Adam (FitOptions), the
// rows shuffled each epoch with a generator seeded with opts.Seed; progress, if not nil,
// is called after every epoch. The returned network has empty Meta: set it with SetMeta.
//
// It returns an error for empty or mismatched x and y, a non-finite value in x or y, no
// layers, a last width other than out, an invalid activation, an invalid loss, a
// cross-entropy loss without a softmax output layer or with target rows that are not
// probability vectors, invalid options, a split that leaves no training or no validation
// row, or a diverged (non-finite) training loss.
func Train(x, y *mat.Dense, layers []LayerSpec, loss Loss, opts FitOptions, progress func(EpochStats)) (*Dense, History, error) {
	d, tr, val, err := prepare(x, y, layers, loss, opts)
	if err != nil {
		return nil, History{}, fmt.Errorf("models: Train: %w", err)
	}
	h, err := run(d, x, y, tr, val, loss, opts, progress)
	if err != nil {
		return nil, h, fmt.Errorf("models: Train: %w", err)
	}
	return d, h, nil
}

// prepare checks Train's arguments, builds the network and splits the row indices into
// training and validation rows.
func prepare(x, y *mat.Dense, layers []LayerSpec, loss Loss, opts FitOptions) (d *Dense, train, val []int, err error) {
	if err := opts.check(); err != nil {
		return nil, nil, nil, err
	}
	if x == nil || y == nil || x.IsEmpty() || y.IsEmpty() {
		return nil, nil, nil, errors.New("no training rows")
	}
	n, in := x.Dims()
	yn, out := y.Dims()
	switch {
	case yn != n:
		return nil, nil, nil, fmt.Errorf("%d input rows and %d target rows", n, yn)
	case len(layers) == 0:
		return nil, nil, nil, errors.New("no layers")
	case layers[len(layers)-1].Width != out:
		return nil, nil, nil, fmt.Errorf("output layer width %d, the targets have %d columns", layers[len(layers)-1].Width, out)
	case !loss.valid():
		return nil, nil, nil, fmt.Errorf("loss %q, want %s or %s", loss, LossMSE, LossCrossEntropy)
	case loss == LossCrossEntropy && layers[len(layers)-1].Activation != ActSoftmax:
		return nil, nil, nil, fmt.Errorf("loss %s needs a softmax output layer, not %s", loss, layers[len(layers)-1].Activation)
	}
	for i := 0; i < n; i++ {
		for j, v := range x.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, nil, fmt.Errorf("input row %d column %d is %v", i, j, v)
			}
		}
	}
	if err := checkTargets(loss, y); err != nil {
		return nil, nil, nil, err
	}
	sizes, acts := []int{in}, make([]Activation, len(layers))
	for l, ly := range layers {
		sizes, acts[l] = append(sizes, ly.Width), ly.Activation
	}
	if d, err = NewDense(sizes, acts, opts.Seed); err != nil {
		return nil, nil, nil, err
	}
	train = make([]int, n)
	for i := range train {
		train[i] = i
	}
	if opts.ValidationSplit > 0 {
		nv := int(math.Round(opts.ValidationSplit * float64(n)))
		if nv < 1 || nv >= n {
			return nil, nil, nil, fmt.Errorf("validation split %v of %d rows leaves %d validation and %d training rows, want ≥ 1 each",
				opts.ValidationSplit, n, nv, n-nv)
		}
		perm := rand.New(rand.NewSource(opts.Seed)).Perm(n)
		val, train = perm[:nv], perm[nv:]
		slices.Sort(val)
		slices.Sort(train)
	}
	return d, train, val, nil
}

// run is Train's loop over epochs.
func run(d *Dense, x, y *mat.Dense, train, val []int, loss Loss, opts FitOptions, progress func(EpochStats)) (History, error) {
	_, xc := x.Dims()
	_, yc := y.Dims()
	rng := rand.New(rand.NewSource(opts.Seed))
	tr := newTrainer(d)
	opt := newAdam(d, opts.LearningRate, opts.Beta1, opts.Beta2, opts.Epsilon)
	bx, by := make([]float64, opts.BatchSize*xc), make([]float64, opts.BatchSize*yc)
	var vx, vy *mat.Dense
	if len(val) > 0 {
		vx, vy = gather(x, val), gather(y, val)
	}
	var h History
	var best [][]float64
	bestLoss, bestEpoch, stale := math.Inf(1), 0, 0
	for epoch := 1; epoch <= opts.Epochs; epoch++ {
		perm := rng.Perm(len(train))
		var total float64
		for start := 0; start < len(train); start += opts.BatchSize {
			idx := perm[start:min(start+opts.BatchSize, len(train))]
			b := mat.NewDense(len(idx), xc, bx[:len(idx)*xc])
			t := mat.NewDense(len(idx), yc, by[:len(idx)*yc])
			for i, k := range idx {
				b.SetRow(i, x.RawRowView(train[k]))
				t.SetRow(i, y.RawRowView(train[k]))
			}
			l := tr.lossGrad(b, t, loss)
			opt.step(d, tr.g)
			total += l * float64(len(idx))
		}
		st := EpochStats{Epoch: epoch, TrainLoss: total / float64(len(train)), ValLoss: math.NaN(), ValAccuracy: math.NaN()}
		if math.IsNaN(st.TrainLoss) || math.IsInf(st.TrainLoss, 0) {
			return h, fmt.Errorf("training diverged at epoch %d (loss %v); lower the learning rate", epoch, st.TrainLoss)
		}
		h.Best = epoch
		if vx != nil {
			st.ValLoss, st.ValAccuracy = evaluate(d, vx, vy, loss)
			if st.ValLoss < bestLoss {
				bestLoss, bestEpoch, stale, best = st.ValLoss, epoch, 0, snapshot(d, best)
			} else {
				stale++
			}
		}
		h.Epochs = append(h.Epochs, st)
		if progress != nil {
			progress(st)
		}
		if opts.Patience > 0 && stale >= opts.Patience {
			break
		}
	}
	if best != nil {
		for k, p := range params(d) {
			copy(p, best[k])
		}
		h.Best = bestEpoch
	}
	return h, nil
}

// evalRows bounds the rows evaluate runs through Predict at once (memory: evalRows × the
// widest layer).
const evalRows = 1024

// evaluate returns the loss of d on x (n × in) against y (n × out) and, for the
// cross-entropy, the accuracy (NaN otherwise).
func evaluate(d *Dense, x, y *mat.Dense, loss Loss) (value, accuracy float64) {
	n, xc := x.Dims()
	_, yc := y.Dims()
	var sum float64
	var correct int
	for start := 0; start < n; start += evalRows {
		end := min(start+evalRows, n)
		xs, ys := x.Slice(start, end, 0, xc).(*mat.Dense), y.Slice(start, end, 0, yc).(*mat.Dense)
		out := mat.NewDense(end-start, yc, nil)
		d.Predict64(xs, out)
		sum += lossOf(loss, out, ys) * float64(end-start)
		correct += countCorrect(out, ys)
	}
	accuracy = math.NaN()
	if loss == LossCrossEntropy {
		accuracy = float64(correct) / float64(n)
	}
	return sum / float64(n), accuracy
}

// gather copies the rows idx of m into a new len(idx) × cols matrix.
func gather(m *mat.Dense, idx []int) *mat.Dense {
	_, c := m.Dims()
	g := mat.NewDense(len(idx), c, nil)
	for i, k := range idx {
		g.SetRow(i, m.RawRowView(k))
	}
	return g
}

// snapshot copies d's parameters (in params order) into dst, reusing dst's memory when it
// is not nil.
func snapshot(d *Dense, dst [][]float64) [][]float64 {
	ps := params(d)
	if dst == nil {
		dst = make([][]float64, len(ps))
	}
	for k, p := range ps {
		dst[k] = append(dst[k][:0], p...)
	}
	return dst
}
