package pipeline

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// The stage label of edgepipe_stage_records_total besides the operators' types.
const stageStore = "store"

// handoff is the capacity of the channel a relayed operator writes into, before the relay
// that counts its records moves them into the next stage's input (of capacity buffer).
const handoff = 64

// stageNames returns the edgepipe_stage_records_total label of each operator: its YAML
// type, with "#2", "#3" … appended when the type appears again (two clean steps are
// "clean" and "clean#2").
func stageNames(ops []*Conf) []string {
	seen := map[string]int{}
	names := make([]string, len(ops))
	for i, c := range ops {
		seen[c.Spec.Name]++
		names[i] = c.Spec.Name
		if n := seen[c.Spec.Name]; n > 1 {
			names[i] += "#" + strconv.Itoa(n)
		}
	}
	return names
}

// Emitter is implemented by operators whose Run writes every record it passes on with
// Emit, giving it the context Run was given. The engine then counts the operator's
// records in Emit (an atomic add); the output of any other operator goes through a relay
// goroutine that counts it, which costs a channel hand-off and often a goroutine wake-up
// per record (about 0.5 µs of CPU).
type Emitter interface {
	// EmitsCounted marks the operator; it does nothing.
	EmitsCounted()
}

// stageCounterKey is the context key of the counter Emit increments.
type stageCounterKey struct{}

// Emit writes rec to out and counts it in the operator's edgepipe_stage_records_total
// when ctx is (derived from) the context the engine gave the operator's Run; it returns
// ctx.Err() when ctx is cancelled while out is full. Operators that write every record
// with it implement Emitter.
func Emit(ctx context.Context, out chan<- *Record, rec *Record) error {
	// A send that does not block first: a select over out and ctx.Done() locks both
	// channels, and out seldom is full. ctx only matters when it is (the drain timeout
	// has passed and the stages after have stopped).
	select {
	case out <- rec:
	default:
		select {
		case out <- rec:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c, ok := ctx.Value(stageCounterKey{}).(prometheus.Counter); ok {
		c.Inc()
	}
	return nil
}

// relay hands every record of in to out in order, counting it in count, and closes out
// when in closes. When ctx (the engine's hard stop) ends it drops the records it still
// gets (unacked: the broker redelivers them) until in closes.
func relay(ctx context.Context, in <-chan *Record, out chan<- *Record, count prometheus.Counter) {
	defer close(out)
	for r := range in {
		select {
		case out <- r:
			count.Inc()
		case <-ctx.Done():
		}
	}
}

// RecordStage is implemented by operators that transform one record at a time, in
// place, keeping their state (per-device windows, last values) to themselves: clean,
// normalize, fill and window. The engine runs a run of consecutive RecordStages on one
// goroutine, calling each stage's Process in pipeline order for every record, instead of
// one goroutine per stage with a channel between each two: a hand-off costs a channel
// send, a receive and often a goroutine wake-up per record. Order, backpressure and
// edgepipe_stage_records_total are as with separate goroutines; the operator's own Run
// is not called then.
type RecordStage interface {
	Operator
	// Process transforms rec, a record that is not a dead letter, in place (or marks it
	// with Fail). Calls come from one goroutine at a time, in record order.
	Process(rec *Record)
}

// runStages is the goroutine of a run of RecordStages: it applies every stage to each
// record of in in order (dead records pass untouched), counting the record in each
// stage's counter as it leaves that stage, and writes it to out. It returns ctx.Err()
// when ctx is cancelled while in is empty or out is full, and nil when in is closed.
func runStages(ctx context.Context, stages []RecordStage, counts []prometheus.Counter, in <-chan *Record, out chan<- *Record) error {
	last := len(stages) - 1
	for {
		var rec *Record
		var ok bool
		select { // without blocking first, as Emit sends
		case rec, ok = <-in:
		default:
			select {
			case rec, ok = <-in:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			return nil
		}
		for i, s := range stages {
			if !rec.Dead() {
				s.Process(rec)
			}
			if i < last {
				counts[i].Inc()
			}
		}
		select {
		case out <- rec:
		default:
			select {
			case out <- rec:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		counts[last].Inc()
	}
}
