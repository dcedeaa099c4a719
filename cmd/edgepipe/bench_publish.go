package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
)

const (
	// benchInFlight bounds the publishes awaiting completion (the PUBACK at QoS 1, the
	// network write at QoS 0).
	benchInFlight = 1000
	// benchStall is how long the backlog bound waits without a commit before it assumes
	// the readings it waits for are lost and publishes on.
	benchStall = 5 * time.Second
	// benchAckGrace is how long the publisher waits for its last completions.
	benchAckGrace = 10 * time.Second
)

// benchPublishOptions configure publishBench.
type benchPublishOptions struct {
	url, clientID string
	qos           byte
	// rate is the target in readings/s across all sensors; 0 = flat out (the backlog
	// bound is then the only brake).
	rate float64
	// backlog bounds the readings published but not yet finished by the pipeline, so
	// that a publisher faster than the pipeline does not pile up an unbounded queue
	// at the broker (the embedded one drops past 65,535 per session).
	backlog  int64
	sensors  *benchSensors
	finished func() int64
	// from is the start of the measured window; readings published from then on are
	// measured, and publishing stops after measured of them (0 = when ctx ends).
	from     time.Time
	measured int64
	// onPublish is called right before each publish, on the publishing goroutine.
	onPublish func(device string, ts, at time.Time)
}

// benchPublished counts a publisher's progress; the bench reads it while it runs.
type benchPublished struct {
	// sent are the publishes handed to the client; measured those sent from the
	// measured window's start on.
	sent, measured atomic.Int64
	// acked are the publishes completed (PUBACK at QoS 1, written at QoS 0), bytes their
	// payload bytes.
	acked, bytes atomic.Int64
	// last is when the last publish was sent (unix ns).
	last atomic.Int64
}

// publishBench publishes the sensors' readings (reading 0, 1, 2…) to the broker at
// o.rate, or flat out, with at most benchInFlight awaiting completion and at most
// o.backlog not yet finished by the pipeline, until ctx ends or o.measured readings of
// the measured window are sent; then it waits up to benchAckGrace for the outstanding
// completions. It returns an error when the broker cannot be reached or a publish
// fails.
func publishBench(ctx context.Context, o benchPublishOptions, c *benchPublished) error {
	// Coalesced writes (mqttconn.Dial): the readings published while a write is under
	// way leave in the next one, instead of one system call each (about a quarter of the
	// publisher's CPU time) and about one read each by the broker.
	client := paho.NewClient(paho.NewClientOptions().
		AddBroker(o.url).
		SetClientID(o.clientID).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).
		SetCustomOpenConnectionFn(mqttconn.Dial))
	if tok := client.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("bench publisher: connect %s: %v", o.url, tok.Error())
	}
	defer client.Disconnect(250)

	type pending struct {
		tok   paho.Token
		bytes int
	}
	queue := make(chan pending, benchInFlight)
	collected := make(chan error, 1)
	go func() {
		var first error
		for p := range queue {
			<-p.tok.Done()
			if err := p.tok.Error(); err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			c.acked.Add(1)
			c.bytes.Add(int64(p.bytes))
		}
		collected <- first
	}()

	bound := backlogBound{limit: o.backlog, finished: o.finished}
	pace := time.NewTimer(0)
	defer pace.Stop()
	start := time.Now()
	for k := 0; ctx.Err() == nil && (o.measured == 0 || c.measured.Load() < o.measured); k++ {
		if o.rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(k) / o.rate * float64(time.Second)))); d > 0 {
				pace.Reset(d)
				select {
				case <-pace.C:
				case <-ctx.Done():
					continue
				}
			}
		}
		bound.wait(ctx, c.sent.Load())
		sensor, ts, v := o.sensors.reading(k)
		payload := benchPayload(ts, v)
		at := time.Now()
		o.onPublish(o.sensors.devices[sensor], ts, at)
		tok := client.Publish(o.sensors.topics[sensor], o.qos, false, payload)
		c.sent.Add(1)
		c.last.Store(at.UnixNano())
		if !at.Before(o.from) {
			c.measured.Add(1)
		}
		queue <- pending{tok, len(payload)}
	}
	close(queue)
	select {
	case err := <-collected:
		if err != nil {
			return fmt.Errorf("bench publisher: publish: %w", err)
		}
		return nil
	case <-time.After(benchAckGrace):
		return errors.New("bench publisher: publishes still incomplete " + benchAckGrace.String() + " after the last one")
	}
}

// backlogBound holds the publisher back while limit readings or more are published but
// not finished by the pipeline. Readings the pipeline does not finish within benchStall
// while the publisher waits are written off as lost (QoS 0, or a dropping broker): the
// bound then counts from there, so that a loss does not slow the publisher for good.
type backlogBound struct {
	limit      int64
	finished   func() int64
	writtenOff int64
}

// wait returns once sent − finished − written off < limit, or when ctx ends.
func (b *backlogBound) wait(ctx context.Context, sent int64) {
	last, since := b.finished(), time.Now()
	for sent-last-b.writtenOff >= b.limit && ctx.Err() == nil {
		if time.Since(since) > benchStall {
			b.writtenOff = sent - last
			return
		}
		time.Sleep(time.Millisecond)
		if f := b.finished(); f != last {
			last, since = f, time.Now()
		}
	}
}
