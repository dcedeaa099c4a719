package natsconn

import (
	"context"
	"errors"
	"fmt"

	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SubscribeOptions select what Subscribe reads.
type SubscribeOptions struct {
	// Stream is the JetStream stream to read; "" reads a core NATS subscription instead
	// (only summaries published while subscribed, at most once).
	Stream string
	// Subject filters the summaries (NATS wildcards allowed); "" means
	// DefaultSubjectPrefix + ".>". Subject(prefix, site, device) is one device's subject.
	Subject string
	// DeliverAll reads a stream from its first stored message; otherwise only summaries
	// stored after the subscription started. Ignored for core NATS.
	DeliverAll bool
}

// DefaultSubscribeOptions returns the options matching the forwarder's defaults: stream
// DefaultStream, subject "edgepipe.>", new messages only.
func DefaultSubscribeOptions() SubscribeOptions {
	return SubscribeOptions{Stream: DefaultStream, Subject: DefaultSubjectPrefix + ".>"}
}

// Received is one summary message.
type Received struct {
	// Subject is the message subject, `<prefix>.<site>.summary.<device token>`.
	Subject string
	// MsgID is the Nats-Msg-Id header, `<site>/<device>/<window start ms>`.
	MsgID string
	// Summary is the decoded summary; the zero value when Err is set.
	Summary pipeline.Summary
	// Raw is the payload as received (msgpack or JSON, see ContentType).
	Raw []byte
	// ContentType is the Content-Type header (application/msgpack or application/json).
	ContentType string
	// Err is set when the payload is not a summary this build can decode
	// (DecodeSummary's error); the message is still passed on so nothing is silently lost.
	Err error
}

// Subscribe calls fn for every summary message until ctx is cancelled (then it returns
// nil) or fn returns an error (then it returns that error). fn runs on the caller's
// goroutine, one message at a time. With opts.Stream set it reads through a JetStream
// ordered consumer (ephemeral, no acks, recreated on a gap), so each message stored in the
// stream is received once and in stream order; otherwise a core NATS subscription. It
// returns an error when the stream does not exist or the subscription fails.
func Subscribe(ctx context.Context, nc *nats.Conn, opts SubscribeOptions, fn func(Received) error) error {
	if opts.Subject == "" {
		opts.Subject = DefaultSubjectPrefix + ".>"
	}
	if opts.Stream == "" {
		return subscribeCore(ctx, nc, opts.Subject, fn)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("subscribe: jetstream: %w", err)
	}
	policy := jetstream.DeliverNewPolicy
	if opts.DeliverAll {
		policy = jetstream.DeliverAllPolicy
	}
	cons, err := js.OrderedConsumer(ctx, opts.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{opts.Subject},
		DeliverPolicy:  policy,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("subscribe: stream %s, subject %s: %w", opts.Stream, opts.Subject, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("subscribe: stream %s: %w", opts.Stream, err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("subscribe: stream %s: %w", opts.Stream, err)
		}
		if err := fn(received(m.Subject(), m.Headers(), m.Data())); err != nil {
			return err
		}
	}
}

func subscribeCore(ctx context.Context, nc *nats.Conn, subject string, fn func(Received) error) error {
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		return fmt.Errorf("subscribe: %s: %w", subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("subscribe: %s: %w", subject, err)
		}
		if err := fn(received(m.Subject, m.Header, m.Data)); err != nil {
			return err
		}
	}
}

func received(subject string, h nats.Header, data []byte) Received {
	r := Received{Subject: subject, MsgID: h.Get(nats.MsgIdHdr), Raw: data, ContentType: h.Get(headerContentType)}
	r.Summary, r.Err = DecodeSummary(data, r.ContentType)
	return r
}

// Connect opens a NATS connection for a cloud-side reader (the `subscribe` command) that
// reconnects for ever; opts are appended to (and override) those defaults. It returns
// nats.Connect's error (for example no server at url).
func Connect(url string, opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{nats.Name("edgepipe-subscriber"), nats.MaxReconnects(-1)}
	return nats.Connect(url, append(base, opts...)...)
}
