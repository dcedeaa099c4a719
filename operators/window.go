package operators

import (
	"errors"

	"github.com/edgepipe/edgepipe/pipeline"
)

const (
	typeWindow = "window"
	fieldSize  = "size"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindOperator,
		Name:    typeWindow,
		Summary: "Per-device sliding window: the model input is the last N feature vectors, oldest first.",
		Fields: []pipeline.Field{
			{Name: fieldSize, Type: pipeline.TypeInt, Required: true, Min: pipeline.AtLeast(1),
				Description: "N, the number of readings per model input row (≥ 1); the model's input width must be N × its feature count."},
		},
		Build: func(c *pipeline.Conf, _ *pipeline.Env) (any, error) {
			op, err := NewWindow(c.Int(fieldSize))
			if err != nil {
				return nil, confError(c, fieldSize, err)
			}
			return op, nil
		},
	})
}

// ring holds a device's last size feature vectors of width w: slot k is buf[k*w:(k+1)*w],
// next is the slot the next vector goes to (the oldest once full), n how many are held.
type ring struct {
	buf     []float64
	w       int
	next, n int
}

// NewWindow returns the window operator: per device, a ring buffer of the last size
// feature vectors (each of width F). Once size vectors are held, Record.Features becomes
// their concatenation, oldest first, time-major (size × F values: the oldest reading's F
// features, then the next …); before that Features is nil (the reading is stored but not
// scored). A record with nil Features is passed on and not added. A device whose feature
// width changes starts a new window. Per record it only takes the output slice from a
// floatSlab. It returns an *OptionError when size < 1. As a pipeline.FeatureStage it
// turns width F into size × F and needs Features from an earlier stage (normalize).
func NewWindow(size int) (pipeline.Operator, error) {
	if size < 1 {
		return nil, optionErrorf(fieldSize, "%d: want ≥ 1", size)
	}
	rings := map[string]*ring{}
	var slab floatSlab // of the records' Features
	width := func(in int) (int, error) {
		if in < 0 {
			return 0, errors.New("window needs features: put it after normalize")
		}
		return size * in, nil
	}
	return featureFunc{width: width, recordFunc: func(rec *pipeline.Record) {
		f := rec.Features
		if f == nil {
			return
		}
		r := rings[rec.Device]
		if r == nil || r.w != len(f) {
			r = &ring{buf: make([]float64, size*len(f)), w: len(f)}
			rings[rec.Device] = r
		}
		copy(r.buf[r.next*r.w:], f)
		r.next = (r.next + 1) % size
		if r.n < size {
			r.n++
		}
		if r.n < size {
			rec.Features = nil
			return
		}
		out := slab.take(len(r.buf))
		// Slots next … size-1 are the oldest, then 0 … next-1.
		k := copy(out, r.buf[r.next*r.w:])
		copy(out[k:], r.buf[:r.next*r.w])
		rec.Features = out
	}}, nil
}
