// Package operators holds edgepipe's pipeline stages, each registered under its YAML `type`:
// decode (payload → Record), clean (physical ranges), normalize (per-device z-score),
// fill (gap filling), window (sliding window of feature vectors), infer (dynamic batching
// around a models.Model) and the tumbling-window summarizer. README.md documents every
// operator's fields with a sample YAML snippet.
package operators

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/edgepipe/edgepipe/pipeline"
)

// recordFunc is a per-record operator: it transforms one live record in place (or marks
// it with Fail). Dead records pass through untouched. It runs on the operator's single
// goroutine, so it may keep per-device state without locking.
type recordFunc func(rec *pipeline.Record)

// Run implements pipeline.Operator: it applies f to every live record of in, in order,
// and writes every record to out. It returns ctx.Err() when ctx is cancelled (the drain
// timeout passed) and nil when in is closed.
func (f recordFunc) Run(ctx context.Context, in <-chan *pipeline.Record, out chan<- *pipeline.Record) error {
	for {
		rec, ok, err := nextRecord(ctx, in)
		if err != nil || !ok {
			return err
		}
		if !rec.Dead() {
			f(rec)
		}
		if err := send(ctx, out, rec); err != nil {
			return err
		}
	}
}

// Process implements pipeline.RecordStage: the engine runs consecutive per-record
// operators (clean, normalize, fill, window) on one goroutine, calling f for every live
// record, instead of Run on a goroutine each.
func (f recordFunc) Process(rec *pipeline.Record) { f(rec) }

// nextRecord returns the next record of in (ok false once in is closed), or ctx.Err() when
// ctx is cancelled while in is empty. It tries in without blocking first: under load in
// is seldom empty, and a select over in and ctx.Done() locks both channels (a quarter of
// the operators' CPU time in BenchmarkChain). After the drain timeout cancels ctx, the
// stages before have stopped, so an operator returns once it has passed on what its
// input holds, within milliseconds.
func nextRecord(ctx context.Context, in <-chan *pipeline.Record) (rec *pipeline.Record, ok bool, err error) {
	select {
	case rec, ok = <-in:
		return rec, ok, nil
	default:
	}
	select {
	case <-ctx.Done():
		return nil, false, ctx.Err()
	case rec, ok = <-in:
		return rec, ok, nil
	}
}

// featureFunc is a per-record operator that builds or consumes Record.Features; width
// implements pipeline.FeatureStage, so that Build checks the feature widths of a chain
// (normalize → fill → window → infer) before it runs.
type featureFunc struct {
	recordFunc
	width func(in int) (int, error)
}

// FeatureWidth implements pipeline.FeatureStage: the width of Features after the stage
// given the width before it (-1: no earlier stage sets Features).
func (f featureFunc) FeatureWidth(in int) (int, error) { return f.width(in) }

// send writes rec to out, or returns ctx.Err() when ctx is cancelled first; with the
// context Run was given it counts the record in the stage's edgepipe_stage_records_total
// (pipeline.Emit). Every operator of this package writes its records with it, hence
// implements pipeline.Emitter.
func send(ctx context.Context, out chan<- *pipeline.Record, rec *pipeline.Record) error {
	return pipeline.Emit(ctx, out, rec)
}

// EmitsCounted implements pipeline.Emitter (the per-record operators: clean, normalize,
// fill, window).
func (recordFunc) EmitsCounted() {}

// EmitsCounted implements pipeline.Emitter.
func (*Decode) EmitsCounted() {}

// EmitsCounted implements pipeline.Emitter.
func (*Infer) EmitsCounted() {}

// slabFloats is the size of a floatSlab block: 4096 float64 (32 KiB).
const slabFloats = 4096

// floatSlab hands out float64 slices carved from larger blocks, so that an operator that
// makes a small slice per record (decode's Values, normalize's and window's Features)
// allocates once per block instead of once per record. A slice it returns belongs to
// its record alone: nothing is ever handed out twice or reused, its capacity is its
// length (an append copies it), and a block is freed by the garbage collector once no
// record holds a slice of it. A slice longer than a quarter block is allocated on its
// own, so that a block is not kept alive by few records. Not safe for concurrent use;
// a nil *floatSlab allocates every slice on its own.
type floatSlab struct{ block []float64 }

// take returns a zeroed slice of n float64.
func (s *floatSlab) take(n int) []float64 {
	if s == nil || n > slabFloats/4 {
		return make([]float64, n)
	}
	if n > len(s.block) {
		s.block = make([]float64, slabFloats)
	}
	out := s.block[:n:n]
	s.block = s.block[n:]
	return out
}

// OptionError is a bad option given to a constructor (NewDecode, NewWindow …): Field is
// the config field name, so Build can report it at that field's position in the file.
type OptionError struct {
	Field string
	Msg   string
}

func (e *OptionError) Error() string { return e.Field + ": " + e.Msg }

func optionErrorf(field, format string, args ...any) error {
	return &OptionError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// confError turns a constructor error into a config error at the position of its field
// (fallback: the given field).
func confError(c *pipeline.Conf, fallback string, err error) error {
	var oe *OptionError
	if errors.As(err, &oe) {
		return c.Errorf(oe.Field, "%s", oe.Msg)
	}
	return c.Errorf(fallback, "%v", err)
}

// orDiscard returns log, or a logger that discards everything when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log != nil {
		return log
	}
	return slog.New(slog.DiscardHandler)
}
