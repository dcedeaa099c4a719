package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Pipeline is a built, runnable graph: source → operators → sink (which folds committed
// records into the summarizer and fills the outbox) → forwarder.
type Pipeline struct {
	cfg       *Config
	env       *Env
	source    Source
	ops       []Operator
	sink      Sink
	forwarder Forwarder
	ready     <-chan struct{}
	// stages are the edgepipe_stage_records_total labels of the operators (stageNames).
	stages []string
	// checkers and reloaders are the components that implement HealthChecker and
	// Reloader, kept apart from the fields Close clears so that Readiness and Reload may
	// run concurrently with Run.
	checkers  []HealthChecker
	reloaders []Reloader
	// state is the lifecycle state (stateBuilt … stateStopped) that Readiness reports.
	state atomic.Int32
}

// Build constructs every component of cfg in dependency order (summarizer, operators,
// store, output, input). env supplies the logger, metrics and hooks; its Name, Site,
// Fields, Vectors and Summarizer are filled from cfg. Build does not connect to brokers or
// servers; Run does. It returns ConfigErrors holding every component's configuration
// errors at once, or the first other error.
func Build(cfg *Config, env Env) (*Pipeline, error) {
	env.Name = cfg.Top.String(KeyName)
	env.Site = cfg.Top.String(KeySite)
	env.Fields = cfg.Fields()
	env.Vectors = cfg.Vectors()
	if env.Log == nil {
		env.Log = slog.Default()
	}
	if env.Metrics == nil {
		env.Metrics = NewMetrics()
	}
	if env.Shared == nil {
		env.Shared = new(sync.Map)
	}
	env.Hooks.Committed = observeCommits(env.Metrics, env.Hooks.Committed)
	p := &Pipeline{cfg: cfg, env: &env}
	var errs ConfigErrors
	build := func(c *Conf) any {
		if c == nil {
			return nil // a section with parse errors (Lint)
		}
		v, err := c.Spec.Build(c, p.env)
		var ce *ConfigError
		var ces ConfigErrors
		switch {
		case err == nil:
			return v
		case errors.As(err, &ces):
			errs = append(errs, ces...)
		case errors.As(err, &ce):
			errs = append(errs, ce)
		default:
			errs = append(errs, &ConfigError{Pos: c.Pos, Msg: fmt.Sprintf("%s %s: %v", c.Spec.Kind, c.Spec.Name, err)})
		}
		return nil
	}
	if s, ok := build(cfg.Summarize).(Summarizer); ok {
		p.env.Summarizer = s
	}
	width := -1
	for _, c := range cfg.Pipeline {
		op, ok := build(c).(Operator)
		if !ok {
			width = -2 // unknown after an operator that failed to build
			continue
		}
		p.ops = append(p.ops, op)
		if fs, ok := op.(FeatureStage); ok && width != -2 {
			w, err := fs.FeatureWidth(width)
			if err != nil {
				errs = append(errs, &ConfigError{Pos: c.Pos, Msg: fmt.Sprintf("pipeline %s: %v", c.Spec.Name, err)})
				w = -2 // unknown from here on: report the first mismatch only
			}
			width = w
		}
	}
	p.sink, _ = build(cfg.Store).(Sink)
	if cfg.Output != nil {
		p.forwarder, _ = build(cfg.Output).(Forwarder)
		if _, ok := p.sink.(OutboxProvider); p.sink != nil && !ok {
			errs = append(errs, &ConfigError{Pos: cfg.Output.Pos, Msg: fmt.Sprintf("output: store %s keeps no outbox to forward", cfg.Store.Spec.Name)})
		}
	}
	p.source, _ = build(cfg.Input).(Source)
	if r, ok := p.source.(Readier); ok {
		p.ready = r.Ready()
	} else {
		ready := make(chan struct{})
		close(ready)
		p.ready = ready
	}
	if len(errs) > 0 {
		p.Close()
		return nil, errs
	}
	p.collect()
	return p, nil
}

// collect names the stages and notes the components that report their health or can
// reload, in the order source, operators, store, output.
func (p *Pipeline) collect() {
	p.stages = stageNames(p.cfg.Pipeline)
	comps := []any{p.source}
	for _, op := range p.ops {
		comps = append(comps, op)
	}
	comps = append(comps, p.sink, p.forwarder)
	for _, c := range comps {
		if h, ok := c.(HealthChecker); ok {
			p.checkers = append(p.checkers, h)
		}
		if r, ok := c.(Reloader); ok {
			p.reloaders = append(p.reloaders, r)
		}
	}
}

// Env returns the environment the components were built with.
func (p *Pipeline) Env() *Env { return p.env }

// Ready returns a channel closed once the source is ready to receive (see Readier);
// sources that do not say are ready at once.
func (p *Pipeline) Ready() <-chan struct{} { return p.ready }

// Outbox returns the store's outbox, or nil when the store keeps none.
func (p *Pipeline) Outbox() Outbox {
	if op, ok := p.sink.(OutboxProvider); ok {
		return op.Outbox()
	}
	return nil
}

// Run starts every stage and blocks until the pipeline has stopped. Cancelling ctx starts
// a drain: the source stops taking messages, the operators flush (the open inference
// batch too), the store commits and acks what is in flight, and the forwarder publishes
// the outbox; after the config's drain_timeout whatever is not committed is abandoned,
// unacked, for the broker to redeliver. A bounded source that ends drains the same way.
// Run returns nil after a clean drain, or the first error that stopped a stage. The
// components are closed when Run returns.
func (p *Pipeline) Run(ctx context.Context) error {
	p.state.Store(stateRunning)
	defer p.state.Store(stateStopped)
	defer p.Close()
	log := p.env.Log
	hard, hardCancel := context.WithCancel(context.Background())
	defer hardCancel()
	buf := p.cfg.Top.Int(KeyBuffer)
	// chans[i] feeds operator i (chans[len(p.ops)] the sink); none between two
	// RecordStages, which share a goroutine.
	chans := make([]chan *Record, len(p.ops)+1)
	for i := range chans {
		if i == 0 || i == len(p.ops) || !isRecordStage(p.ops[i-1]) || !isRecordStage(p.ops[i]) {
			chans[i] = make(chan *Record, buf)
		}
	}

	// A stage reports its outcome before it closes its output, so that when the sink
	// has finished every earlier stage's error is already readable.
	failed := make(chan error, len(p.ops))
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- p.sink.Run(hard, chans[len(p.ops)]) }()
	p.env.Metrics.StageRecords.WithLabelValues(stageStore)
	for i := 0; i < len(p.ops); i++ {
		op := p.ops[i]
		// Consecutive RecordStages share one goroutine, reading chans[i] and writing
		// chans[j].
		if j := p.recordStages(i); j-i > 1 {
			stages := make([]RecordStage, 0, j-i)
			counts := make([]prometheus.Counter, 0, j-i)
			for k := i; k < j; k++ {
				stages = append(stages, p.ops[k].(RecordStage))
				counts = append(counts, p.env.Metrics.StageRecords.WithLabelValues(p.stages[k]))
			}
			in, out, name := chans[i], chans[j], p.cfg.Pipeline[i].Spec.Name
			go func() {
				if err := runStages(hard, stages, counts, in, out); err != nil && hard.Err() == nil {
					failed <- fmt.Errorf("%s: %w", name, err)
				}
				close(out)
			}()
			i = j - 1
			continue
		}
		// Each operator's records count in edgepipe_stage_records_total: in Emit for an
		// Emitter, else in a relay between its output and the next stage's input.
		count := p.env.Metrics.StageRecords.WithLabelValues(p.stages[i])
		octx, out := hard, chans[i+1]
		if _, ok := op.(Emitter); ok {
			octx = context.WithValue(hard, stageCounterKey{}, count)
		} else {
			out = make(chan *Record, handoff)
			go relay(hard, out, chans[i+1], count)
		}
		go func() {
			if err := op.Run(octx, chans[i], out); err != nil && hard.Err() == nil {
				failed <- fmt.Errorf("%s: %w", p.cfg.Pipeline[i].Spec.Name, err)
			}
			close(out)
		}()
	}
	fctx, fcancel := context.WithCancel(context.Background())
	defer fcancel()
	fwdDone := make(chan error, 1)
	if p.forwarder != nil {
		go func() { fwdDone <- p.forwarder.Run(fctx, p.Outbox()) }()
	}
	srcOut := chans[0]
	if after := p.cfg.Top.Duration(KeyWatchdog); after > 0 {
		wd := newWatchdog(after, log, p.env.Metrics)
		srcOut = make(chan *Record)
		go wd.relay(hard, srcOut, chans[0])
		go wd.watch(fctx)
	}
	srcCtx, srcCancel := context.WithCancel(ctx)
	defer srcCancel()
	srcDone := make(chan error, 1)
	go func() {
		srcDone <- p.source.Run(srcCtx, srcOut)
		close(srcOut)
	}()

	var runErr error
	sinkEnded := false
	select {
	case err := <-srcDone:
		if err != nil && !errors.Is(err, context.Canceled) {
			runErr = fmt.Errorf("input: %w", err)
		}
	case runErr = <-failed:
		srcCancel()
		<-srcDone
		hardCancel()
	case err := <-sinkDone:
		// The sink ends on its own only when its input has closed (the source ended and
		// every operator flushed), or on a failure.
		sinkEnded = true
		if err != nil {
			runErr = fmt.Errorf("store: %w", err)
			srcCancel()
			hardCancel()
		}
		<-srcDone
	}
	p.state.Store(stateDraining)
	drain := p.cfg.Top.Duration(KeyDrainTimeout)
	dctx, dcancel := context.WithTimeout(context.Background(), drain)
	defer dcancel()
	if !sinkEnded {
		log.Info("draining", "timeout", drain)
		select {
		case err := <-sinkDone:
			if err != nil && runErr == nil && hard.Err() == nil {
				runErr = fmt.Errorf("store: %w", err)
			}
		case <-dctx.Done():
			log.Warn("drain timeout: records still in flight are not committed and not acked; the broker redelivers them", "timeout", drain)
			hardCancel()
			<-sinkDone
		}
	}
	select {
	case err := <-failed:
		if runErr == nil {
			runErr = err
		}
	default:
	}
	if p.forwarder != nil {
		p.flushOutbox(dctx)
		fcancel()
		if err := <-fwdDone; err != nil && !errors.Is(err, context.Canceled) && runErr == nil {
			runErr = fmt.Errorf("output: %w", err)
		}
	}
	return runErr
}

// isRecordStage reports whether op is a pipeline.RecordStage.
func isRecordStage(op Operator) bool {
	_, ok := op.(RecordStage)
	return ok
}

// recordStages returns the end (exclusive) of the run of consecutive RecordStages that
// starts at operator i (i itself when operator i is not one).
func (p *Pipeline) recordStages(i int) int {
	j := i
	for j < len(p.ops) && isRecordStage(p.ops[j]) {
		j++
	}
	return j
}

// flushOutbox waits until the outbox is empty or ctx (the drain deadline) ends.
func (p *Pipeline) flushOutbox(ctx context.Context) {
	ob := p.Outbox()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := ob.Len(context.Background())
		if err != nil || n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			p.env.Log.Warn("drain timeout: summaries left in the outbox are forwarded at the next start", "outbox", n)
			return
		case <-tick.C:
		}
	}
}

// Close releases every component (source, forwarder, store). Run calls it; call it
// yourself only for a pipeline that was built but never run.
func (p *Pipeline) Close() error {
	var errs []error
	if p.source != nil {
		errs = append(errs, p.source.Close())
		p.source = nil
	}
	if p.forwarder != nil {
		errs = append(errs, p.forwarder.Close())
		p.forwarder = nil
	}
	if p.sink != nil {
		errs = append(errs, p.sink.Close())
		p.sink = nil
	}
	return errors.Join(errs...)
}
