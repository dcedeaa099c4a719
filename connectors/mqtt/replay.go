package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepipe/edgepipe/datasets"
)

// Replay defaults.
const (
	DefaultReplayTopic    = "sensors/{device}/reading"
	DefaultReplayField    = "value"
	DefaultReplayClientID = "edgepipe-replay"
	// ReplayMaxInFlight bounds the QoS 1 publishes awaiting their PUBACK.
	ReplayMaxInFlight = 256
	// replayAckGrace is how long a cancelled Replay still waits for outstanding PUBACKs.
	replayAckGrace = 5 * time.Second
)

// ReplayOptions configure Replay. Start from DefaultReplayOptions.
type ReplayOptions struct {
	// URL is the broker, tcp://host:port or ssl://host:port.
	URL string
	// ClientID is the publisher's MQTT client id ("" = DefaultReplayClientID).
	ClientID string
	// Topic is the topic template; "{device}" is replaced by the stream's name
	// ("" = DefaultReplayTopic, "sensors/{device}/reading").
	Topic string
	// QoS is 0 or 1 (DefaultReplayOptions sets 1: each publish waits for its PUBACK).
	QoS byte
	// Rate is the number of readings per second across all devices; 0 = as fast as the
	// broker acknowledges them.
	Rate float64
	// Streams are the recordings to play; Stream.Name is the device id.
	Streams []datasets.Stream
	// Field is the payload key of the value ("" = DefaultReplayField, "value").
	Field string
	// Username and Password are the MQTT CONNECT credentials ("" = anonymous). The
	// password is never logged or returned in an error.
	Username, Password string
	// OnPublish, if set, is called right before each publish with the device, the
	// reading's timestamp and the wall-clock time of the publish (for latency
	// measurement). It runs on Replay's goroutine and must be quick.
	OnPublish func(device string, ts time.Time, at time.Time)
	// Progress, if set, is called after each PUBACK (each publish at QoS 0) with the
	// number of readings acknowledged so far and the total to play. It runs on one
	// goroutine of Replay's and must be quick.
	Progress func(done, total int)
}

// DefaultReplayOptions returns the options with every default filled in: QoS 1, topic
// "sensors/{device}/reading", field "value", client id "edgepipe-replay", Rate 0.
func DefaultReplayOptions() ReplayOptions {
	return ReplayOptions{ClientID: DefaultReplayClientID, Topic: DefaultReplayTopic, QoS: 1, Field: DefaultReplayField}
}

// ReplayStats count what Replay published and the broker acknowledged.
type ReplayStats struct {
	// Published is the number of readings acknowledged by the broker (sent, at QoS 0).
	Published int
	// Bytes is the total size of their payloads (bytes, excluding MQTT headers).
	Bytes int64
}

// Replay plays recorded sensor streams into an MQTT broker, one message per reading:
// topic Topic with "{device}" replaced by the stream's name, payload a JSON object
// {"ts": <epoch ms, UTC>, "<Field>": <value>} (a NaN value is written as null).
//
// Each device's readings go out in timestamp order; devices are interleaved by their
// fractional progress (the next reading is the one whose stream is least advanced, i/n),
// so all streams finish together. At Rate 0 up to ReplayMaxInFlight (256) QoS 1
// publishes are outstanding at once; Replay returns after every PUBACK has arrived.
//
// It returns an error when the options are invalid, the broker cannot be reached or
// refuses the connection, or a publish fails. When ctx is cancelled it stops publishing,
// waits up to 5 s for outstanding PUBACKs and returns the stats so far with ctx.Err().
func Replay(ctx context.Context, o ReplayOptions) (ReplayStats, error) {
	if o.Topic == "" {
		o.Topic = DefaultReplayTopic
	}
	if o.Field == "" {
		o.Field = DefaultReplayField
	}
	plan, err := newReplayPlan(o)
	if err != nil {
		return ReplayStats{}, err
	}
	return Publish(ctx, o, len(plan.order), func(k int, at time.Time) Message {
		step := plan.order[k]
		s := &plan.streams[step.stream]
		row := s.rows[step.row]
		if o.OnPublish != nil {
			o.OnPublish(s.stream.Name, s.stream.Times[row], at)
		}
		return Message{Topic: s.topic, Payload: plan.payload(s.stream.Times[row], s.stream.Values[row])}
	})
}

// Message is one MQTT publish: the topic name (no wildcards) and the payload.
type Message struct {
	Topic   string
	Payload []byte
}

// Publish connects to o.URL with o's client id and credentials and publishes n messages
// in order, message k (0 … n−1) built by msg(k, at) when its turn comes, at being the
// wall-clock time (UTC) of its publish; msg runs on Publish's goroutine. An empty
// o.ClientID is DefaultReplayClientID; o.QoS, o.Rate
// (messages per second; 0 = as fast as the broker acknowledges them) and o.Progress
// apply as for Replay; o.Topic, o.Field, o.Streams and o.OnPublish are not used. At QoS
// 1 up to ReplayMaxInFlight publishes are outstanding at once, and Publish returns after
// every PUBACK has arrived.
//
// It returns an error when the options are invalid (QoS above 1, a negative or
// non-finite rate, a bad URL), the broker cannot be reached or
// refuses the connection, or a publish fails. When ctx is cancelled it stops publishing,
// waits up to 5 s for outstanding PUBACKs and returns the stats so far with ctx.Err().
func Publish(ctx context.Context, o ReplayOptions, n int, msg func(k int, at time.Time) Message) (ReplayStats, error) {
	if o.ClientID == "" {
		o.ClientID = DefaultReplayClientID
	}
	if o.QoS > 1 {
		return ReplayStats{}, fmt.Errorf("replay: QoS %d is not 0 or 1", o.QoS)
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		return ReplayStats{}, fmt.Errorf("replay: rate %v is not a finite number ≥ 0", o.Rate)
	}
	if err := checkURL(o.URL); err != nil {
		return ReplayStats{}, fmt.Errorf("replay: %w", err)
	}
	client := paho.NewClient(paho.NewClientOptions().
		AddBroker(o.URL).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetPassword(o.Password).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectTimeout(10 * time.Second))
	tok := client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		client.Disconnect(0)
		return ReplayStats{}, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return ReplayStats{}, fmt.Errorf("replay: connect %s: %w", redact(o.URL), err)
	}
	defer client.Disconnect(disconnectQuiesce)

	acks := newAckCollector(n, o.Progress)
	start := time.Now()
	for k := range n {
		if o.Rate > 0 {
			due := start.Add(time.Duration(float64(k) / o.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		if ctx.Err() != nil || !acks.acquire(ctx) {
			break
		}
		m := msg(k, time.Now().UTC())
		acks.add(client.Publish(m.Topic, o.QoS, false, m.Payload), len(m.Payload))
	}
	stats, err := acks.wait(ctx)
	if err == nil {
		err = ctx.Err()
	}
	return stats, err
}

// replayStream is one stream with its publish topic and its rows in time order.
type replayStream struct {
	stream datasets.Stream
	topic  string
	rows   []int
}

// replayStep is one publish: which stream and which of its (time-ordered) rows.
type replayStep struct{ stream, row int }

type replayPlan struct {
	streams []replayStream
	order   []replayStep
	// fieldKey is the JSON-encoded value key, with its quotes.
	fieldKey []byte
}

func newReplayPlan(o ReplayOptions) (*replayPlan, error) {
	key, err := json.Marshal(o.Field)
	if err != nil {
		return nil, fmt.Errorf("replay: field %q: %w", o.Field, err)
	}
	p := &replayPlan{fieldKey: key}
	total := 0
	for _, s := range o.Streams {
		if len(s.Times) != len(s.Values) {
			return nil, fmt.Errorf("replay: stream %q has %d times but %d values", s.Name, len(s.Times), len(s.Values))
		}
		topic := strings.ReplaceAll(o.Topic, "{device}", s.Name)
		if topic == "" || strings.ContainsAny(topic, "+#\x00") {
			return nil, fmt.Errorf("replay: topic %q for device %q is not a valid MQTT topic name (no + or #)", topic, s.Name)
		}
		rows := make([]int, len(s.Times))
		for i := range rows {
			rows[i] = i
		}
		sort.SliceStable(rows, func(a, b int) bool { return s.Times[rows[a]].Before(s.Times[rows[b]]) })
		p.streams = append(p.streams, replayStream{stream: s, topic: topic, rows: rows})
		total += len(rows)
	}
	p.order = interleave(p.streams, total)
	return p, nil
}

// interleave orders the publishes: repeatedly the stream with the least fractional
// progress next/n (ties to the earlier stream), compared exactly as next_a·n_b < next_b·n_a.
func interleave(streams []replayStream, total int) []replayStep {
	next := make([]int, len(streams))
	order := make([]replayStep, 0, total)
	for len(order) < total {
		best := -1
		for i, s := range streams {
			n := len(s.rows)
			if next[i] == n {
				continue
			}
			if best < 0 || next[i]*len(streams[best].rows) < next[best]*n {
				best = i
			}
		}
		order = append(order, replayStep{stream: best, row: next[best]})
		next[best]++
	}
	return order
}

// payload encodes {"ts": <epoch ms>, "<field>": <value>}.
func (p *replayPlan) payload(ts time.Time, v float64) []byte {
	b := make([]byte, 0, 48+len(p.fieldKey))
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, ts.UnixMilli(), 10)
	b = append(b, ',')
	b = append(b, p.fieldKey...)
	b = append(b, ':')
	if math.IsNaN(v) || math.IsInf(v, 0) {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '}')
}

// ackCollector bounds the publishes in flight and waits for their acknowledgements in
// publish order on one goroutine.
type ackCollector struct {
	slots    chan struct{}
	pending  chan pendingPub
	done     chan struct{}
	errc     chan struct{}
	total    int
	progress func(done, total int)
	stats    ReplayStats
	err      error
}

type pendingPub struct {
	tok   paho.Token
	bytes int
}

func newAckCollector(total int, progress func(done, total int)) *ackCollector {
	a := &ackCollector{
		slots:    make(chan struct{}, ReplayMaxInFlight),
		pending:  make(chan pendingPub, ReplayMaxInFlight),
		done:     make(chan struct{}),
		errc:     make(chan struct{}),
		total:    total,
		progress: progress,
	}
	go a.collect()
	return a
}

// acquire waits for a free slot; false when ctx ended or a publish failed.
func (a *ackCollector) acquire(ctx context.Context) bool {
	select {
	case a.slots <- struct{}{}:
		return true
	case <-ctx.Done():
	case <-a.errc:
	}
	return false
}

func (a *ackCollector) add(t paho.Token, n int) { a.pending <- pendingPub{tok: t, bytes: n} }

func (a *ackCollector) collect() {
	defer close(a.done)
	for p := range a.pending {
		<-p.tok.Done()
		<-a.slots
		if a.err != nil {
			continue
		}
		if err := p.tok.Error(); err != nil {
			a.err = fmt.Errorf("replay: publish: %w", err)
			close(a.errc)
			continue
		}
		a.stats.Published++
		a.stats.Bytes += int64(p.bytes)
		if a.progress != nil {
			a.progress(a.stats.Published, a.total)
		}
	}
}

// wait closes the queue and waits for every outstanding acknowledgement (at most
// replayAckGrace once ctx has ended), then returns the stats and the first publish error.
func (a *ackCollector) wait(ctx context.Context) (ReplayStats, error) {
	close(a.pending)
	select {
	case <-a.done:
	case <-ctx.Done():
		select {
		case <-a.done:
		case <-time.After(replayAckGrace):
			return ReplayStats{}, errors.New("replay: cancelled with publishes still unacknowledged")
		}
	}
	return a.stats, a.err
}
