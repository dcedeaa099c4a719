package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

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
	// onPublish is called right before each publish of the measured window, on the
	// publishing goroutine, with the reading's number (benchSensors.reading) and the
	// time.
	onPublish func(k int, at time.Time)
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
//
// The publisher's CPU time is taken from the pipeline it measures (they share the
// cores), so the loop keeps it low: the payloads are cut from a shared slab (paho's
// goroutines write a payload after Publish returns, so none is reused), the completions are collected by the publishing goroutine itself from a ring of
// tokens (no goroutine woken per publish), and paho keeps no store of the messages in
// flight (benchStore).
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
		SetStore(benchStore{}).
		SetCustomOpenConnectionFn(mqttconn.Dial))
	if tok := client.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("bench publisher: connect %s: %v", o.url, tok.Error())
	}
	defer client.Disconnect(250)

	var inflight benchInflight
	bound := backlogBound{limit: o.backlog, finished: o.finished}
	pace := time.NewTimer(0)
	defer pace.Stop()
	var slab []byte
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
		if cap(slab)-len(slab) < benchMaxPayload {
			slab = make([]byte, 0, 64<<10)
		}
		n := len(slab)
		slab = appendBenchPayload(slab, ts, v)
		payload := slab[n:len(slab):len(slab)]
		for inflight.full() {
			inflight.wait(c)
		}
		at := time.Now()
		measured := !at.Before(o.from)
		if measured {
			o.onPublish(k, at)
		}
		tok := client.Publish(o.sensors.topics[sensor], o.qos, false, payload)
		c.sent.Add(1)
		c.last.Store(at.UnixNano())
		if measured {
			c.measured.Add(1)
		}
		inflight.push(tok, len(payload))
		inflight.collect(c)
	}
	if err := inflight.drain(c, benchAckGrace); err != nil {
		return err
	}
	if inflight.err != nil {
		return fmt.Errorf("bench publisher: publish: %w", inflight.err)
	}
	return nil
}

// benchInflight are the publishes awaiting completion, oldest first: a ring of
// benchInFlight tokens, used by the publishing goroutine only.
type benchInflight struct {
	toks       [benchInFlight]paho.Token
	bytes      [benchInFlight]int
	head, n    int
	err        error // the first failed publish
	acked, len int64 // completions and their payload bytes not yet added to benchPublished
}

func (f *benchInflight) full() bool { return f.n == benchInFlight }

// push adds a publish of bytes payload bytes; the ring must not be full.
func (f *benchInflight) push(tok paho.Token, bytes int) {
	i := (f.head + f.n) % benchInFlight
	f.toks[i], f.bytes[i] = tok, bytes
	f.n++
}

// pop removes the oldest publish, complete, and counts it.
func (f *benchInflight) pop() {
	tok := f.toks[f.head]
	if err := tok.Error(); err != nil {
		if f.err == nil {
			f.err = err
		}
	} else {
		f.acked++
		f.len += int64(f.bytes[f.head])
	}
	f.toks[f.head] = nil
	f.head = (f.head + 1) % benchInFlight
	f.n--
}

// collect counts the completed publishes at the head of the ring into c.
func (f *benchInflight) collect(c *benchPublished) {
	for f.n > 0 {
		select {
		case <-f.toks[f.head].Done():
			f.pop()
			continue
		default:
		}
		break
	}
	f.flush(c)
}

// wait waits for the oldest benchInFlight/4 publishes to complete and counts the
// completed ones into c: the publisher then sends the next ones in a burst, which the
// connection coalesces into a few writes, rather than one each time a PUBACK frees a
// place, each in a write of its own after a wakeup of its own.
func (f *benchInflight) wait(c *benchPublished) {
	<-f.toks[f.head].Done()
	<-f.toks[(f.head+benchInFlight/4-1)%benchInFlight].Done()
	f.collect(c)
}

// flush adds the counted completions to c.
func (f *benchInflight) flush(c *benchPublished) {
	if f.acked > 0 {
		c.acked.Add(f.acked)
		c.bytes.Add(f.len)
		f.acked, f.len = 0, 0
	}
}

// drain waits up to grace for every publish to complete and counts them into c.
func (f *benchInflight) drain(c *benchPublished, grace time.Duration) error {
	t := time.NewTimer(grace)
	defer t.Stop()
	defer f.flush(c)
	for f.n > 0 {
		select {
		case <-f.toks[f.head].Done():
			f.pop()
		case <-t.C:
			return errors.New("bench publisher: publishes still incomplete " + grace.String() + " after the last one")
		}
	}
	return nil
}

// benchStore is the publisher's paho.Store: none. paho keeps each outgoing QoS 1
// PUBLISH in its store until the PUBACK, to send it again when a session resumes; the
// publisher's session is clean and never resumed (no reconnect), so the store is
// write-only work: a map insert and delete under a lock per reading.
type benchStore struct{}

func (benchStore) Open()                                   {}
func (benchStore) Put(key string, m packets.ControlPacket) {}
func (benchStore) Get(key string) packets.ControlPacket    { return nil }
func (benchStore) All() []string                           { return nil }
func (benchStore) Del(key string)                          {}
func (benchStore) Close()                                  {}
func (benchStore) Reset()                                  {}

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
	last := b.finished()
	if sent-last-b.writtenOff < b.limit {
		return
	}
	since := time.Now()
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
