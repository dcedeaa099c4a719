// Package pipeline is the edgepipe engine: the Record that flows between stages, ack
// tracking, the Source/Operator/Sink interfaces, the registry that builds a running graph
// from a YAML config, and the lifecycle (start, drain, stop). It knows nothing of MQTT,
// NATS, SQLite or gonum: connectors and operators plug in through Register.
package pipeline

import (
	"math"
	"time"
)

// Record is one reading as it moves through a pipeline.
//
// A source fills Payload, Topic, Received and the ack handle; the decode operator fills
// Device, Time and Values; preprocessing fills Features; infer fills Score, Anomaly,
// Label, Output and Model. A record that cannot be processed carries a DeadLetter reason
// and passes through the remaining operators untouched until the sink writes it to the
// dead-letter table and acks it.
type Record struct {
	// Topic is the MQTT topic (or other source address) the payload arrived on.
	Topic string
	// Payload is the raw message body. Sinks keep it only for dead letters.
	Payload []byte
	// Received is the wall-clock arrival time at the source (UTC).
	Received time.Time
	// Part is the record's index among the records split from one message (Split); 0
	// for a message that carries one reading. With Topic and Payload it identifies a
	// record across redeliveries.
	Part int

	// Device is the sensor id, verbatim (it may contain any UTF-8, including '.', '*', '>').
	Device string
	// Time is the event time of the reading (UTC).
	Time time.Time
	// Values holds one value per pipeline field, in the order of the config's `fields`,
	// in the sensor's physical units (°C, %, lux …). NaN means missing. Operators must not
	// rescale Values; scaled model inputs go to Features.
	Values []float64
	// Features is the model input vector built by preprocessing (normalize, window):
	// length = the model's input width. Nil means the record is not scored (for example a
	// window still warming up); it is still stored.
	Features []float64

	// Score is the anomaly score (autoencoder reconstruction error, mean squared error
	// over Features) or the top-class probability of a classifier; NaN when not scored.
	Score float64
	// Anomaly is true when Score exceeded the model's threshold for this device.
	Anomaly bool
	// Label is the predicted class name of a classifier ("" for anomaly detectors).
	Label string
	// Output is the raw model output row (width = the model's output width), or nil.
	Output []float64
	// Model is the version (content hash) of the model that scored the record, or "".
	Model string

	// DeadLetter, when non-empty, is why the record cannot be processed (for example
	// "decode: invalid JSON: unexpected end of input"). The sink stores the record in
	// dead_letters with this reason instead of in inferences.
	DeadLetter string

	ack *Ack
}

// NewRecord returns a record for a source message: topic, raw payload, arrival time and
// the ack handle to call once the record has been committed (ack may be nil).
func NewRecord(topic string, payload []byte, received time.Time, ack *Ack) *Record {
	return &Record{Topic: topic, Payload: payload, Received: received, Score: math.NaN(), ack: ack}
}

// ackedRecord is a record and its ack handle in one allocation (NewAckedRecord).
type ackedRecord struct {
	Record
	handle Ack
}

// NewAckedRecord is NewRecord(topic, payload, received, ack) with a new ack handle that
// calls msg.Ack() once the record (and any split from it) is done, made in one
// allocation with the record, and without the closure a method value msg.Ack would
// allocate: the per-message cost of a source.
func NewAckedRecord(topic string, payload []byte, received time.Time, msg Acker) *Record {
	r := &ackedRecord{Record: Record{Topic: topic, Payload: payload, Received: received, Score: math.NaN()}}
	r.handle.acker = msg
	r.handle.pending.Store(1)
	r.ack = &r.handle
	return &r.Record
}

// Fail marks the record as a dead letter with reason and returns it.
func (r *Record) Fail(reason string) *Record {
	if r.DeadLetter == "" {
		r.DeadLetter = reason
	}
	return r
}

// Dead reports whether the record is a dead letter.
func (r *Record) Dead() bool { return r.DeadLetter != "" }

// Split returns n records that share this record's source message: each copy has the same
// topic, payload and arrival time, and the message is acked only when all n are done.
// It is used by decoders for a message that carries an array of readings. n must be ≥ 1.
func (r *Record) Split(n int) []*Record {
	out := make([]*Record, n)
	if r.ack != nil {
		r.ack.add(int32(n - 1))
	}
	for i := range out {
		c := *r
		c.Values = nil
		c.Features = nil
		c.Part = r.Part + i
		out[i] = &c
	}
	out[0] = r
	return out
}

// Done tells the source that this record has been durably committed by the sink (stored,
// or stored as a dead letter). The source message is acked when every record split from
// it is done. Calling Done more than once per record is a bug (the count would go
// negative); Done on a record without an ack handle does nothing.
func (r *Record) Done() {
	if r.ack != nil {
		r.ack.done()
	}
}
