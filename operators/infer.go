package operators

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
	"gonum.org/v1/gonum/mat"
)

const (
	typeInfer     = "infer"
	fieldMaxBatch = "max_batch"
	fieldMaxDelay = "max_delay"
	fieldWorkers  = "workers"
	fieldQueue    = "queue"
	fieldWatch    = "watch"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindOperator,
		Name:    typeInfer,
		Summary: "Runs the model on the readings' features with dynamic batching; records leave in the order they came.",
		Fields: []pipeline.Field{
			{Name: fieldModel, Type: pipeline.TypeString, Required: true, Description: "Model file (relative to the config file)."},
			{Name: fieldMaxBatch, Type: pipeline.TypeInt, Default: 64, Min: pipeline.AtLeast(1), Description: "A batch closes when this many rows are waiting."},
			{Name: fieldMaxDelay, Type: pipeline.TypeDuration, Default: 5 * time.Millisecond,
				Description: "… or when its oldest row has waited this long: the most latency batching adds."},
			{Name: fieldWorkers, Type: pipeline.TypeInt, Default: 2, Min: pipeline.AtLeast(1), Description: "Batches computed in parallel; about the number of cores to spare."},
			{Name: fieldQueue, Type: pipeline.TypeInt, Default: 1024, Min: pipeline.AtLeast(1),
				Description: "Rows (about) that may wait in closed batches for a worker or for their turn to leave (≥ 1); when full, infer stops reading (backpressure)."},
			{Name: fieldWatch, Type: pipeline.TypeBool, Default: true,
				Description: "Hot swap: watch the model file and, when it is replaced by a valid model with the same kind, features and window, serve the new model from the next batch on (normalize naming the same file follows); a bad file is logged and the old model keeps serving."},
		},
		Build: func(c *pipeline.Conf, env *pipeline.Env) (any, error) {
			f, err := sharedModelFile(env, env.Path(c.String(fieldModel)))
			if err != nil {
				return nil, c.Errorf(fieldModel, "%v", err)
			}
			op, err := newFileInfer(f, c.Bool(fieldWatch), InferOptions{
				MaxBatch: c.Int(fieldMaxBatch), MaxDelay: c.Duration(fieldMaxDelay),
				Workers: c.Int(fieldWorkers), Queue: c.Int(fieldQueue),
			}, env.Metrics, env.Log)
			if err != nil {
				return nil, confError(c, fieldModel, err)
			}
			return op, nil
		},
	})
}

// InferOptions configure NewInfer's dynamic batching.
type InferOptions struct {
	// MaxBatch is the most rows per batch (≥ 1).
	MaxBatch int
	// MaxDelay is how long the oldest row of an open batch may wait (≥ 0).
	MaxDelay time.Duration
	// Workers is the number of batches computed in parallel (≥ 1).
	Workers int
	// Queue bounds the rows waiting in closed batches (≥ 1): about Queue/MaxBatch batches
	// (at least one) may wait, besides the ones being computed.
	Queue int
}

// Infer is the inference operator: Triton-style dynamic batching around a models.Model.
// A batch closes when MaxBatch scorable rows are waiting or the oldest has waited
// MaxDelay, whichever comes first, or when the input closes; Workers goroutines compute
// batches in parallel (Predict on a rows × InputWidth mat.Dense); an emitter writes the
// batches out in the order they were formed, so records leave in exactly the order they
// came. Records that are not scored (dead, or Features nil) ride along in the batch
// sequence without compute.
//
// An autoencoder sets Score to the row's mean squared reconstruction error
// (models.ReconstructionErrors), Anomaly to Score > Meta.ThresholdFor(device), and Model to
// Meta.Version. A classifier sets Output to the output row (width OutputWidth), Label to
// Classes[argmax], Score to the largest output, and Model. A record whose Features width
// is not the model's input width is dead-lettered "infer: …".
//
// Nothing non-finite goes in or comes out: a record with a NaN or ±Inf feature is not
// given to the model (Features set to nil), and a row whose output or score is NaN or
// ±Inf gets no score (Score stays NaN, no Label, Model ""); both are stored and counted
// in edgepipe_unscored_total by reason.
//
// Built from a model file (the "infer" config type) the model can be hot-swapped: each
// batch takes the model serving when the batch closes (ModelFile.Current) and is computed
// by it alone, so its records carry that model's version; a swap takes effect from the
// next batch on and loses or repeats no record.
type Infer struct {
	model   func() models.Model // the model serving now
	width   int                 // its input width, the same for every model that may serve
	file    *ModelFile          // nil when built by NewInfer
	watch   bool                // Run watches file
	o       InferOptions
	metrics *pipeline.Metrics
	log     *slog.Logger
}

// batch is a run of consecutive records; rows of them are scored by model.
type batch struct {
	recs  []*pipeline.Record
	rows  int
	model models.Model
	done  chan struct{} // closed when the rows are scored
}

// closedDone is the done channel of batches without rows.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// NewInfer returns the infer operator for model m. metrics may be nil (nothing observed);
// otherwise each batch observes BatchSize (rows) and InferSeconds. It returns an
// *OptionError for an option out of range, a model kind other than autoencoder or
// classifier, an autoencoder whose output width differs from its input width, or a
// classifier whose class count differs from its output width.
func NewInfer(m models.Model, o InferOptions, metrics *pipeline.Metrics) (*Infer, error) {
	switch {
	case o.MaxBatch < 1:
		return nil, optionErrorf(fieldMaxBatch, "%d: want ≥ 1", o.MaxBatch)
	case o.MaxDelay < 0:
		return nil, optionErrorf(fieldMaxDelay, "%v: want ≥ 0", o.MaxDelay)
	case o.Workers < 1:
		return nil, optionErrorf(fieldWorkers, "%d: want ≥ 1", o.Workers)
	case o.Queue < 1:
		return nil, optionErrorf(fieldQueue, "%d: want ≥ 1", o.Queue)
	}
	meta := m.Meta()
	switch meta.Kind {
	case models.KindAutoencoder:
		if m.OutputWidth() != m.InputWidth() {
			return nil, optionErrorf(fieldModel, "autoencoder %q: output width %d ≠ input width %d", meta.Name, m.OutputWidth(), m.InputWidth())
		}
	case models.KindClassifier:
		if len(meta.Classes) != m.OutputWidth() {
			return nil, optionErrorf(fieldModel, "classifier %q: %d classes for output width %d", meta.Name, len(meta.Classes), m.OutputWidth())
		}
	default:
		return nil, optionErrorf(fieldModel, "model %q: kind %q is not autoencoder or classifier", meta.Name, meta.Kind)
	}
	return &Infer{model: func() models.Model { return m }, width: m.InputWidth(), o: o, metrics: metrics, log: orDiscard(nil)}, nil
}

// newFileInfer is NewInfer for the model of a ModelFile, which may be swapped while Run
// runs; with watch, Run watches the file (ModelFile.Watch) and logs to log (nil: nowhere).
// Every model the file accepts has the first one's kind and widths
// (models.CheckReplacement; Decode checks classes and autoencoder widths), so NewInfer's
// checks hold for all of them.
func newFileInfer(f *ModelFile, watch bool, o InferOptions, metrics *pipeline.Metrics, log *slog.Logger) (*Infer, error) {
	op, err := NewInfer(f.Current(), o, metrics)
	if err != nil {
		return nil, err
	}
	op.model = func() models.Model { return f.Current() }
	op.file, op.watch, op.log = f, watch, orDiscard(log)
	return op, nil
}

// Reload reloads the model file now, as a change of the file does with watch on (for a
// SIGHUP handler): see ModelFile.Reload. It returns the reason a new file was rejected,
// or an error when the operator was built by NewInfer (no file).
func (op *Infer) Reload() error {
	if op.file == nil {
		return errors.New("infer: the model was not loaded from a file")
	}
	return op.file.Reload()
}

// Run implements pipeline.Operator. When in closes, the open batch is flushed and Run
// returns once every record has been written; when ctx is cancelled it returns
// ctx.Err() promptly.
//
// With watch on, Run also watches the model file until it returns (ModelFile.Watch); when
// the file cannot be watched it logs a warning and runs on without hot swap.
func (op *Infer) Run(ctx context.Context, in <-chan *pipeline.Record, out chan<- *pipeline.Record) error {
	if op.file != nil && op.watch {
		wctx, cancel := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			if err := op.file.Watch(wctx); err != nil {
				op.log.Warn("infer: the model file is not watched: a new model needs a restart", "err", err)
			}
		}()
		defer func() { cancel(); <-watched }()
	}
	depth := max(1, op.o.Queue/op.o.MaxBatch)
	ordered := make(chan *batch, depth) // every batch, in order, for the emitter
	work := make(chan *batch, depth)    // batches with rows, for the workers
	var wg sync.WaitGroup
	for range op.o.Workers {
		wg.Go(func() {
			var s scratch
			for b := range work {
				op.compute(b, &s)
				close(b.done)
			}
		})
	}
	emitted := make(chan error, 1)
	go func() { emitted <- emit(ctx, ordered, out) }()
	err := op.collect(ctx, in, ordered, work)
	close(work)
	close(ordered)
	wg.Wait()
	if e := <-emitted; err == nil {
		err = e
	}
	return err
}

// FeatureWidth implements pipeline.FeatureStage: the stages before infer must give
// Features of exactly the model's input width (window size × feature count), or every
// reading would be dead-lettered. Infer does not change Features, so it returns in. It
// returns an error when in differs from the input width, or is -1 (no stage sets
// Features).
func (op *Infer) FeatureWidth(in int) (int, error) {
	switch {
	case in < 0:
		return 0, errors.New("infer needs features: put normalize (and window) before it")
	case in != op.width:
		return 0, fmt.Errorf("model %q takes %d features, the stages before infer give %d (window size × fields)", op.model().Meta().Name, op.width, in)
	}
	return in, nil
}

// scorable reports whether rec gets a model row, failing it when its width is wrong.
func (op *Infer) scorable(rec *pipeline.Record) bool {
	if rec.Dead() || rec.Features == nil {
		return false
	}
	if len(rec.Features) != op.width {
		rec.Fail(fmt.Sprintf("infer: %d features, model %q takes %d (check the window size and the model's features)",
			len(rec.Features), op.model().Meta().Name, op.width))
		return false
	}
	if !allFinite(rec.Features) {
		rec.Features = nil // stored, not scored: a NaN or ±Inf never reaches the model
		op.unscored(unscoredFeatures)
		return false
	}
	return true
}

// The reasons of the edgepipe_unscored_total metric.
const (
	unscoredFeatures = "nonfinite_features"
	unscoredOutput   = "nonfinite_output"
)

// unscored counts a reading left without a score for reason.
func (op *Infer) unscored(reason string) {
	if op.metrics != nil {
		op.metrics.Unscored.WithLabelValues(reason).Inc()
	}
}

// allFinite reports whether no value of xs is NaN or ±Inf.
func allFinite(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// collect reads records into batches and hands each closed batch to the emitter (always)
// and to the workers (when it has rows), with the model serving as it closes.
func (op *Infer) collect(ctx context.Context, in <-chan *pipeline.Record, ordered, work chan<- *batch) error {
	timer := time.NewTimer(op.o.MaxDelay)
	timer.Stop()
	var timeout <-chan time.Time // non-nil while a batch with rows is open
	cur := &batch{}
	flush := func() error {
		if len(cur.recs) == 0 {
			return nil
		}
		b := cur
		cur = &batch{recs: make([]*pipeline.Record, 0, len(b.recs))}
		if timeout != nil {
			timer.Stop()
			timeout = nil
		}
		b.done = closedDone
		if b.rows > 0 {
			b.done = make(chan struct{})
			b.model = op.model()
		}
		select {
		case ordered <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b.rows == 0 {
			return nil
		}
		select {
		case work <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			if err := flush(); err != nil {
				return err
			}
		case rec, ok := <-in:
			if !ok {
				return flush()
			}
			cur.recs = append(cur.recs, rec)
			var err error
			switch {
			case op.scorable(rec):
				if cur.rows++; cur.rows == 1 {
					timer.Reset(op.o.MaxDelay)
					timeout = timer.C
				}
				if cur.rows >= op.o.MaxBatch {
					err = flush()
				}
			case cur.rows == 0:
				err = flush() // nothing to wait for: pass it on now
			}
			if err != nil {
				return err
			}
		}
	}
}

// emit writes the records of each batch, in batch order, once the batch is scored.
func emit(ctx context.Context, ordered <-chan *batch, out chan<- *pipeline.Record) error {
	for b := range ordered {
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, rec := range b.recs {
			if err := send(ctx, out, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// scratch is a worker's buffers, reused from batch to batch: the model's input rows, an
// autoencoder's output rows (a classifier's are kept by the records as Output, so they
// are new for every batch), the scores and the records scored.
type scratch struct {
	x, y, errs []float64
	scored     []*pipeline.Record
}

// floats returns buf resized to n values (not zeroed), growing it when too short.
func floats(buf *[]float64, n int) []float64 {
	if cap(*buf) < n {
		*buf = make([]float64, n)
	}
	return (*buf)[:n]
}

// compute scores the batch's rows with the batch's model, in the worker's scratch s.
func (op *Infer) compute(b *batch, s *scratch) {
	m := b.model
	meta := m.Meta()
	inW, outW := m.InputWidth(), m.OutputWidth()
	// Every row of x is written below, every row of y by Predict.
	x := mat.NewDense(b.rows, inW, floats(&s.x, b.rows*inW))
	var y *mat.Dense
	if meta.Kind == models.KindClassifier {
		y = mat.NewDense(b.rows, outW, nil)
	} else {
		y = mat.NewDense(b.rows, outW, floats(&s.y, b.rows*outW))
	}
	scored := s.scored[:0]
	defer func() { clear(scored); s.scored = scored[:0] }() // keep no record alive
	for _, rec := range b.recs {
		if !rec.Dead() && rec.Features != nil {
			copy(x.RawRowView(len(scored)), rec.Features)
			scored = append(scored, rec)
		}
	}
	start := time.Now()
	m.Predict(x, y)
	if op.metrics != nil {
		op.metrics.InferSeconds.Observe(time.Since(start).Seconds())
		op.metrics.BatchSize.Observe(float64(b.rows))
	}
	if meta.Kind == models.KindClassifier {
		data := y.RawMatrix().Data
		for i, rec := range scored {
			row := data[i*outW : (i+1)*outW : (i+1)*outW]
			if !allFinite(row) {
				op.unscored(unscoredOutput)
				continue
			}
			best := 0
			for j, p := range row {
				if p > row[best] {
					best = j
				}
			}
			rec.Output, rec.Label, rec.Score, rec.Model = row, meta.Classes[best], row[best], meta.Version
		}
		return
	}
	errs := floats(&s.errs, b.rows)
	models.ReconstructionErrors(x, y, errs)
	for i, rec := range scored {
		if math.IsNaN(errs[i]) || math.IsInf(errs[i], 0) {
			op.unscored(unscoredOutput)
			continue
		}
		rec.Score = errs[i]
		rec.Anomaly = errs[i] > meta.ThresholdFor(rec.Device)
		rec.Model = meta.Version
	}
}
