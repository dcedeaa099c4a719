package pipeline

import "sync/atomic"

// Ack tracks when a source message may be acknowledged: the message's ack function runs
// once, when every record derived from the message has been committed (see Record.Split
// and Record.Done). A message that is never acknowledged is redelivered by the broker
// (MQTT QoS 1, persistent session).
type Ack struct {
	pending atomic.Int32
	fn      func()
	acker   Acker // called when fn is nil (NewAckedRecord)
}

// Acker is a source message that can be acknowledged (a paho.Message is one).
type Acker interface {
	// Ack acknowledges the message.
	Ack()
}

// NewAck returns an ack handle that calls fn once, after the single record it starts
// with (and any split from it) is done. fn may be nil.
func NewAck(fn func()) *Ack {
	a := &Ack{fn: fn}
	a.pending.Store(1)
	return a
}

func (a *Ack) add(n int32) { a.pending.Add(n) }

func (a *Ack) done() {
	if a.pending.Add(-1) != 0 {
		return
	}
	switch {
	case a.fn != nil:
		a.fn()
	case a.acker != nil:
		a.acker.Ack()
	}
}
