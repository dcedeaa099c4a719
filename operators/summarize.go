package operators

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

const (
	typeTumbling      = "tumbling"
	fieldWindow       = "window"
	fieldLateness     = "lateness"
	fieldCloseOnDrain = "close_on_drain"
	fieldDeadLetter   = "dead_letter_late"
	fieldStats        = "stats"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindSummarize,
		Name:    typeTumbling,
		Summary: "Event-time tumbling windows per device, closed by a per-device watermark; one summary per device and window.",
		Fields: []pipeline.Field{
			{Name: fieldWindow, Type: pipeline.TypeDuration, Default: time.Hour,
				Description: "Window length w; windows are [k·w, (k+1)·w) aligned to the Unix epoch (UTC)."},
			{Name: fieldLateness, Type: pipeline.TypeDuration, Default: time.Duration(0),
				Description: "Allowed out-of-orderness: a device's watermark is its latest event time minus lateness; a window closes when the watermark reaches its end."},
			{Name: fieldCloseOnDrain, Type: pipeline.TypeBool, Default: false,
				Description: "On shutdown, close and summarise every open window (for bounded replays); otherwise open windows are rebuilt from the store after a restart."},
			{Name: fieldDeadLetter, Type: pipeline.TypeBool, Default: true,
				Description: "Dead-letter a late reading (its window already closed by the device's watermark) with reason \"late: …\" and count it; false stores it as a reading in no summary instead (counted too). MQTT brokers resend unacknowledged messages in order (the embedded one included), so a redelivery is not late; a broker that reorders needs lateness to cover it."},
			{Name: fieldStats, Type: pipeline.TypeStrings,
				Description: "The fields whose statistics (mean, min, max, std, missing) a summary carries, by name; a vector field's name stands for all its positions. Default: every field; [] none (a classifier's summary then holds counts and labels only, e.g. for a 784-pixel image)."},
		},
		Build: func(c *pipeline.Conf, env *pipeline.Env) (any, error) {
			var stats []string
			if c.Has(fieldStats) {
				stats = append([]string{}, c.Strings(fieldStats)...) // non-nil: [] is "none"
			}
			s, err := NewTumbling(TumblingOptions{
				Site: env.Site, Fields: env.Fields, Vectors: env.Vectors, Stats: stats, Window: c.Duration(fieldWindow),
				Lateness: c.Duration(fieldLateness), CloseOnDrain: c.Bool(fieldCloseOnDrain), DeadLetterLate: c.Bool(fieldDeadLetter),
				Log: env.Log, Metrics: env.Metrics,
			})
			if err != nil {
				return nil, confError(c, fieldWindow, err)
			}
			return s, nil
		},
	})
}

// TumblingOptions configure NewTumbling.
type TumblingOptions struct {
	// Site fills Summary.Site; Fields are the pipeline fields (Summary.Fields keys,
	// aligned with Record.Values).
	Site   string
	Fields []string
	// Vectors are the pipeline's vector fields (pipeline.Env.Vectors), which Stats may
	// name.
	Vectors []pipeline.Vector
	// Stats are the fields (or vector fields) whose statistics Summary.Fields holds; nil
	// is every field, an empty non-nil slice none.
	Stats []string
	// Window is the window length (≥ 1 ms); Lateness the allowed out-of-orderness (≥ 0).
	Window, Lateness time.Duration
	// CloseOnDrain makes Drain close every open window.
	CloseOnDrain bool
	// DeadLetterLate makes CheckLate report late readings, so that the store
	// dead-letters them; when false CheckLate reports none, and a late reading is stored
	// and counted in no summary.
	DeadLetterLate bool
	// Log receives the late-reading notices (at most one line a minute); nil discards
	// them.
	Log *slog.Logger
	// Now is the clock that spaces the late-reading notices; nil is time.Now. Summaries
	// never depend on it.
	Now func() time.Time
	// Metrics, when set, counts late readings (Metrics.Late).
	Metrics *pipeline.Metrics
}

// Tumbling is the tumbling-window summarizer (pipeline.Summarizer). Windows are
// event-time, per device, [k·w, (k+1)·w) in ms since the Unix epoch. A device's
// watermark is the latest event time of its live readings minus the lateness; a window
// closes, and its Summary is returned, once the watermark is ≥ its end. Dead letters with
// a known device and time count in their window's DeadLetters but do not move the
// watermark. A reading whose window the device's watermark has already passed is late:
// with DeadLetterLate, CheckLate (pipeline.LateChecker) tells the store, which
// dead-letters it with reason category "late" instead of storing it as a reading;
// otherwise it is stored and Add leaves it out of every window. Add counts late dead letters, and
// any other record whose window had closed, in Late, in no summary, and a warning gives
// their number and an example device at most once a minute (and at Drain). Summaries
// depend only on the sequence of records given to Add, never on wall-clock time. Add,
// CheckLate, Drain and Late are safe for concurrent use.
type Tumbling struct {
	opts     TumblingOptions
	windowMs int64
	stats    []int // the indices in Fields (and Record.Values) of the fields summarised

	mu      sync.Mutex
	devices map[string]*deviceWindows
	late    lateLog
}

// deviceWindows is one device's open windows (keyed by start ms) and watermark.
type deviceWindows struct {
	open    map[int64]*windowAcc
	hasWM   bool
	maxTime time.Time // latest event time of a live reading added
	// admitted is the latest event time CheckLate accepted (zero: none), ahead of maxTime
	// while the batch that holds it is being committed.
	admitted time.Time
}

// windowAcc accumulates one window's statistics.
type windowAcc struct {
	count, scored, anomalies, dead int
	fields                         []welford
	scores                         welford // the finite scores
	scoreMax                       float64
	labels                         map[string]int
	model                          string
}

// welford is a running mean and sum of squared deviations (Welford 1962), min, max and
// the count of missing (non-finite) values of one field. Mean and m2 are kept scaled by
// 2^-exp, where 2^exp is the smallest power of two above the first non-zero |x|, raised
// whenever a larger |x| arrives: the scaled values lie in (−1, 1), so no intermediate
// overflows for finite inputs (1e308 and −1e308 give mean 0 and std 1e308, where the
// unscaled update overflows to −Inf and NaN) and tiny ones do not underflow (1e-300 and
// 3e-300 give std 1e-300, not 0). Scaling by a power of two is exact, so for values of
// ordinary magnitude the results equal the unscaled algorithm's.
type welford struct {
	n, missing int
	exp        int     // scale exponent: mean = smean·2^exp, m2 = sm2·2^(2·exp)
	smean, sm2 float64 // scaled running mean and sum of squared deviations
	min, max   float64
}

func (w *welford) add(x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		w.missing++
		return
	}
	// |x| < 2^e; while every value so far is 0, any scale is exact, so take x's.
	if _, e := math.Frexp(x); x != 0 && (e > w.exp || w.smean == 0 && w.sm2 == 0) {
		w.smean = math.Ldexp(w.smean, w.exp-e)
		w.sm2 = math.Ldexp(w.sm2, 2*(w.exp-e))
		w.exp = e
	}
	xs := math.Ldexp(x, -w.exp)
	w.n++
	d := xs - w.smean
	w.smean += d / float64(w.n)
	w.sm2 += d * (xs - w.smean)
	if w.n == 1 || x < w.min {
		w.min = x
	}
	if w.n == 1 || x > w.max {
		w.max = x
	}
}

// mean is the mean of the finite values added (NaN when there are none).
func (w *welford) mean() float64 {
	if w.n == 0 {
		return math.NaN()
	}
	return math.Ldexp(w.smean, w.exp)
}

// std is the population standard deviation (ddof = 0) of the finite values added (NaN
// when there are none).
func (w *welford) std() float64 {
	if w.n == 0 {
		return math.NaN()
	}
	return math.Ldexp(math.Sqrt(w.sm2/float64(w.n)), w.exp)
}

// NewTumbling returns a tumbling-window summarizer. It returns an *OptionError when the
// window is shorter than 1 ms or not a whole number of ms, or Stats names neither a field
// nor a vector field.
func NewTumbling(o TumblingOptions) (*Tumbling, error) {
	if o.Window < time.Millisecond || o.Window%time.Millisecond != 0 {
		return nil, optionErrorf(fieldWindow, "%v: want a whole number of milliseconds ≥ 1ms", o.Window)
	}
	if o.Lateness < 0 {
		return nil, optionErrorf(fieldLateness, "%v: want ≥ 0", o.Lateness)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	stats, err := statIndices(o.Fields, o.Vectors, o.Stats)
	if err != nil {
		return nil, err
	}
	return &Tumbling{opts: o, windowMs: o.Window.Milliseconds(), stats: stats, devices: map[string]*deviceWindows{},
		late: lateLog{log: orDiscard(o.Log), now: now, metrics: o.Metrics}}, nil
}

// statIndices returns the indices in fields of the names in stats (every field when
// stats is nil; a vector field's name gives all its positions), or an *OptionError for a
// name that is neither a field nor a vector field.
func statIndices(fields []string, vectors []pipeline.Vector, stats []string) ([]int, error) {
	var idx []int
	if stats == nil {
		for i := range fields {
			idx = append(idx, i)
		}
		return idx, nil
	}
	for _, name := range stats {
		if j := vectorIndex(vectors, name); j >= 0 {
			for i := range vectors[j].Width {
				idx = append(idx, vectors[j].Start+i)
			}
			continue
		}
		i := indexOf(fields, name)
		if i < 0 {
			return nil, optionErrorf(fieldStats, "%q is not a pipeline field (fields: %s)", name, declared(fields, vectors))
		}
		idx = append(idx, i)
	}
	return idx, nil
}

// Late returns the number of late records since the start: dead-lettered as late (or
// dead letters of another reason whose window had already closed), in no summary.
func (s *Tumbling) Late() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.late.total
}

// lateCategory is the dead-letter reason category of a late reading.
const lateCategory = "late"

// CheckLate implements pipeline.LateChecker: r is late when the end of its window is ≤
// the device's watermark, computed from the latest event time of the readings added and
// of those CheckLate accepted (which the store is committing, in order). It then returns
// a reason such as (only with DeadLetterLate; otherwise it reports nothing late)
//
//	late: event time 2024-05-01T12:00:10Z is 4m50s behind the watermark 2024-05-01T12:05:00Z
//	of device "a" (window [2024-05-01T12:00:00Z, 2024-05-01T12:01:00Z) closed), allowed lateness 0s
//
// (on one line). A record accepted advances the device's watermark for the next calls.
// Dead letters and records without a device or time are never late.
func (s *Tumbling) CheckLate(r *pipeline.Record) (string, bool) {
	if !s.opts.DeadLetterLate || r.Dead() || r.Device == "" || r.Time.IsZero() {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[r.Device]
	if d == nil {
		d = &deviceWindows{open: map[int64]*windowAcc{}}
		s.devices[r.Device] = d
	}
	front := d.admitted
	if d.hasWM && d.maxTime.After(front) {
		front = d.maxTime
	}
	if !front.IsZero() {
		wm := front.Add(-s.opts.Lateness)
		start := s.windowStart(r.Time)
		if end := time.UnixMilli(start + s.windowMs); !wm.Before(end) {
			return fmt.Sprintf("%s: event time %s is %v behind the watermark %s of device %q (window [%s, %s) closed), allowed lateness %v",
				lateCategory, utc(r.Time), wm.Sub(r.Time), utc(wm), r.Device, utc(time.UnixMilli(start)), utc(end), s.opts.Lateness), true
		}
	}
	if r.Time.After(d.admitted) {
		d.admitted = r.Time
	}
	return "", false
}

// utc formats t as RFC 3339 with the fraction of a second it has, in UTC.
func utc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Add folds committed records into their windows and returns the summaries of the windows
// the watermark has now closed, sorted by device, then start.
func (s *Tumbling) Add(recs []*pipeline.Record) []pipeline.Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	touched := map[string]*deviceWindows{}
	for _, rec := range recs {
		if rec.Device == "" || rec.Time.IsZero() {
			continue // a dead letter that could not be placed in a window
		}
		if rec.Dead() && pipeline.ReasonCategory(rec.DeadLetter) == lateCategory {
			s.late.add(rec.Device) // never in a window, even one a restart reopened
			continue
		}
		d := s.devices[rec.Device]
		if d == nil {
			d = &deviceWindows{open: map[int64]*windowAcc{}}
			s.devices[rec.Device] = d
		}
		start := s.windowStart(rec.Time)
		if d.hasWM && !s.watermark(d).Before(time.UnixMilli(start+s.windowMs)) {
			s.late.add(rec.Device)
			continue
		}
		w := d.open[start]
		if w == nil {
			w = &windowAcc{fields: make([]welford, len(s.stats))}
			d.open[start] = w
		}
		if rec.Dead() {
			w.dead++
			continue
		}
		s.fold(w, rec)
		if !d.hasWM || rec.Time.After(d.maxTime) {
			d.maxTime, d.hasWM = rec.Time, true
		}
		touched[rec.Device] = d
	}
	s.late.flush(false)
	var out []pipeline.Summary
	for dev, d := range touched {
		wm := s.watermark(d)
		for start, w := range d.open {
			if !wm.Before(time.UnixMilli(start + s.windowMs)) {
				out = append(out, s.summary(dev, start, w))
				delete(d.open, start)
			}
		}
	}
	sortSummaries(out)
	return out
}

// Drain logs the late readings not yet logged, then closes every open window and returns
// their summaries (sorted by device, then start) when CloseOnDrain is set; otherwise it
// returns nil and keeps them open.
func (s *Tumbling) Drain() []pipeline.Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.late.flush(true)
	if !s.opts.CloseOnDrain {
		return nil
	}
	var out []pipeline.Summary
	for dev, d := range s.devices {
		for start, w := range d.open {
			out = append(out, s.summary(dev, start, w))
		}
	}
	s.devices = map[string]*deviceWindows{}
	sortSummaries(out)
	return out
}

// windowStart is the start (ms since the epoch) of the window holding t.
func (s *Tumbling) windowStart(t time.Time) int64 {
	ms := t.UnixMilli()
	start := ms / s.windowMs * s.windowMs
	if ms < 0 && ms%s.windowMs != 0 {
		start -= s.windowMs // floor for times before 1970
	}
	return start
}

func (s *Tumbling) watermark(d *deviceWindows) time.Time { return d.maxTime.Add(-s.opts.Lateness) }

// fold adds one live reading to w.
func (s *Tumbling) fold(w *windowAcc, rec *pipeline.Record) {
	w.count++
	for k, i := range s.stats {
		x := math.NaN()
		if i < len(rec.Values) {
			x = rec.Values[i]
		}
		w.fields[k].add(x)
	}
	if !math.IsNaN(rec.Score) {
		if w.scored == 0 || rec.Score > w.scoreMax {
			w.scoreMax = rec.Score
		}
		w.scored++
		w.scores.add(rec.Score)
		if rec.Anomaly {
			w.anomalies++
		}
	}
	if rec.Label != "" {
		if w.labels == nil {
			w.labels = map[string]int{}
		}
		w.labels[rec.Label]++
	}
	if rec.Model != "" {
		w.model = rec.Model
	}
}

// summary builds the wire summary of a closed window.
func (s *Tumbling) summary(dev string, start int64, w *windowAcc) pipeline.Summary {
	sum := pipeline.Summary{
		Schema: pipeline.SummarySchema, Version: pipeline.SummaryVersion, Site: s.opts.Site, Device: dev,
		StartMs: start, EndMs: start + s.windowMs, Count: w.count, Fields: make(map[string]pipeline.FieldStats, len(w.fields)),
		Scored: w.scored, Anomalies: w.anomalies, Labels: w.labels, Model: w.model, DeadLetters: w.dead,
	}
	for k, f := range w.fields {
		st := pipeline.FieldStats{Missing: f.missing}
		if f.n > 0 {
			st.Mean, st.Min, st.Max, st.Std = finite(f.mean()), finite(f.min), finite(f.max), finite(f.std())
		}
		sum.Fields[s.opts.Fields[s.stats[k]]] = st
	}
	if w.scored > 0 {
		sum.MaxScore = finite(w.scoreMax)
		if w.scores.missing == 0 { // an infinite score makes the mean infinite: nil
			sum.MeanScore = finite(w.scores.mean())
		}
	}
	return sum
}

// finite returns a pointer to x, or nil when x is NaN or ±Inf (pipeline.Summary never
// encodes a non-finite number).
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func sortSummaries(out []pipeline.Summary) {
	slices.SortFunc(out, func(a, b pipeline.Summary) int {
		if c := strings.Compare(a.Device, b.Device); c != 0 {
			return c
		}
		return cmp.Compare(a.StartMs, b.StartMs)
	})
}
