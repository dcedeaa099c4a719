// Package mqtt is edgepipe's MQTT connector: the "mqtt" input (a QoS 1 subscriber with a
// persistent session and manual acks) and Replay, the publisher that plays recorded
// sensor streams. It uses paho.mqtt.golang (MQTT 3.1.1).
package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/edgepipe/edgepipe/pipeline"
)

// Config fields of the "mqtt" input.
const (
	fieldURL          = "url"
	fieldTopics       = "topics"
	fieldQoS          = "qos"
	fieldClientID     = "client_id"
	fieldCleanSession = "clean_session"
	fieldUsername     = "username"
	fieldPassword     = "password"
	fieldKeepAlive    = "keepalive"
	fieldConnectRetry = "connect_retry"
	fieldPresence     = "presence_topic"
	fieldCAFile       = "ca_file"
	fieldCertFile     = "cert_file"
	fieldKeyFile      = "key_file"
	fieldInsecure     = "insecure_skip_verify"
)

// Defaults of the "mqtt" input.
const (
	DefaultKeepAlive    = 30 * time.Second
	DefaultConnectRetry = 10 * time.Second
	// disconnectQuiesce is how long Close lets paho finish sending acks (ms).
	disconnectQuiesce = 250
	// firstRetry is the first wait before retrying a failed first connection.
	firstRetry = 250 * time.Millisecond
	// subackFailure is the SUBACK return code of a refused subscription (MQTT 3.1.1 §3.9.3).
	subackFailure = 0x80
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindInput,
		Name:    "mqtt",
		Summary: "Subscribe to an MQTT broker with QoS 1, a persistent session and manual acks: a message is acked only after its record is committed (at-least-once; the store makes it exactly-once).",
		Fields: []pipeline.Field{
			{Name: fieldURL, Type: pipeline.TypeString, Required: true, Description: "Broker URL: tcp://host:1883 or ssl://host:8883 (also mqtt://, mqtts://, tls://)."},
			{Name: fieldTopics, Type: pipeline.TypeStrings, Required: true, Description: "Topic filters to subscribe to; MQTT wildcards + (one level) and # (the rest) are allowed, e.g. sensors/+/reading."},
			{Name: fieldQoS, Type: pipeline.TypeInt, Default: 1, Min: pipeline.AtLeast(0), Max: pipeline.AtLeast(1), Description: "Subscription QoS: 1 (at-least-once, the default) or 0 (at most once: a message is lost if edgepipe stops before committing it). QoS 2 is not needed: the store makes redeliveries harmless."},
			{Name: fieldClientID, Type: pipeline.TypeString, Required: true, Description: "MQTT client id. A fixed id is what makes the session persistent: the broker keeps the subscription and the unacknowledged messages while edgepipe is down. Two running pipelines must not share it."},
			{Name: fieldCleanSession, Type: pipeline.TypeBool, Default: false, Description: "Start a new session on every connect (the broker forgets queued messages): loses data across restarts; leave false."},
			{Name: fieldUsername, Type: pipeline.TypeString, Default: "", Description: "User name for the broker, if it requires one."},
			{Name: fieldPassword, Type: pipeline.TypeString, Default: "", Secret: true, Description: "Password for the broker; use ${VAR} to read it from the environment."},
			{Name: fieldKeepAlive, Type: pipeline.TypeDuration, Default: DefaultKeepAlive, Description: "MQTT keepalive: the interval of pings that detect a dead connection."},
			{Name: fieldConnectRetry, Type: pipeline.TypeDuration, Default: DefaultConnectRetry, Description: "Longest wait between reconnection attempts (the wait doubles from 250ms up to this); edgepipe retries for ever."},
			{Name: fieldPresence, Type: pipeline.TypeString, Default: DefaultPresenceTopic, Description: "Topic of this pipeline's presence ({client_id} is replaced): \"online\" (retained, with a heartbeat every keepalive/2) while running, \"offline\" by a Last Will or a clean stop. A pipeline started while another one with the same client id runs fails at start instead of fighting it for the session. Empty turns it off."},
			{Name: fieldCAFile, Type: pipeline.TypeString, Default: "", Description: "PEM file of the CA certificate(s) that sign the broker's certificate, for ssl:// URLs; relative to the config file. Empty = the system's root CAs."},
			{Name: fieldCertFile, Type: pipeline.TypeString, Default: "", Description: "PEM client certificate, for brokers that require one (Mosquitto require_certificate); relative to the config file. Needs key_file."},
			{Name: fieldKeyFile, Type: pipeline.TypeString, Default: "", Description: "PEM private key of cert_file; relative to the config file. Keep it readable by edgepipe only."},
			{Name: fieldInsecure, Type: pipeline.TypeBool, Default: false, Description: "Accept any broker certificate without verification (tests only: it allows a man-in-the-middle; logged as a warning)."},
		},
		Build: build,
	})
}

// SourceOptions configure a Source; the fields mirror the "mqtt" input's config fields.
type SourceOptions struct {
	URL          string
	Topics       []string
	QoS          byte
	ClientID     string
	CleanSession bool
	Username     string
	Password     string
	// KeepAlive is the ping interval (default DefaultKeepAlive); ConnectRetry the longest
	// wait between reconnection attempts (default DefaultConnectRetry).
	KeepAlive    time.Duration
	ConnectRetry time.Duration
	// PresenceTopic is the presence topic template (see DefaultPresenceTopic); "" = no
	// presence and no check at start.
	PresenceTopic string
	// TLS is used for ssl://, tls:// and mqtts:// URLs; ignored for tcp:// and mqtt://.
	TLS TLSOptions
}

func build(c *pipeline.Conf, env *pipeline.Env) (any, error) {
	o := SourceOptions{
		URL:           c.String(fieldURL),
		Topics:        c.Strings(fieldTopics),
		ClientID:      c.String(fieldClientID),
		CleanSession:  c.Bool(fieldCleanSession),
		Username:      c.String(fieldUsername),
		Password:      c.String(fieldPassword),
		KeepAlive:     c.Duration(fieldKeepAlive),
		ConnectRetry:  c.Duration(fieldConnectRetry),
		PresenceTopic: c.String(fieldPresence),
		TLS: TLSOptions{
			CAFile:             env.Path(c.String(fieldCAFile)),
			CertFile:           env.Path(c.String(fieldCertFile)),
			KeyFile:            env.Path(c.String(fieldKeyFile)),
			InsecureSkipVerify: c.Bool(fieldInsecure),
		},
	}
	if err := checkURL(o.URL); err != nil {
		return nil, c.Errorf(fieldURL, "%v", err)
	}
	if len(o.Topics) == 0 {
		return nil, c.Errorf(fieldTopics, "list at least one topic filter")
	}
	for _, t := range o.Topics {
		if err := checkFilter(t); err != nil {
			return nil, c.Errorf(fieldTopics, "%v", err)
		}
	}
	o.QoS = byte(c.Int(fieldQoS)) // 0 or 1, bounded by its declaration
	if strings.TrimSpace(o.ClientID) == "" {
		return nil, c.Errorf(fieldClientID, "must not be empty: a fixed client id is what makes the session persistent")
	}
	if o.KeepAlive < time.Second {
		return nil, c.Errorf(fieldKeepAlive, "%v is shorter than 1s (MQTT counts keepalive in seconds)", o.KeepAlive)
	}
	if o.ConnectRetry <= 0 {
		return nil, c.Errorf(fieldConnectRetry, "must be positive")
	}
	if o.PresenceTopic != "" {
		if err := checkTopic(presenceTopic(o.PresenceTopic, o.ClientID)); err != nil {
			return nil, c.Errorf(fieldPresence, "%v", err)
		}
	}
	if err := checkTLS(c, o); err != nil {
		return nil, err
	}
	return NewSource(o, env)
}

// checkTLS checks the TLS fields: the files exist, a certificate comes with its key, and
// TLS fields are not set for a plain tcp:// URL (they would be silently ignored).
func checkTLS(c *pipeline.Conf, o SourceOptions) error {
	files := []struct{ field, path string }{{fieldCAFile, o.TLS.CAFile}, {fieldCertFile, o.TLS.CertFile}, {fieldKeyFile, o.TLS.KeyFile}}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if !isTLSURL(o.URL) {
			return c.Errorf(f.field, "set, but url %q is not a TLS URL (use ssl://)", redact(o.URL))
		}
		if _, err := os.Stat(f.path); err != nil {
			return c.Errorf(f.field, "%v", err)
		}
	}
	if o.TLS.CertFile != "" && o.TLS.KeyFile == "" {
		return c.Errorf(fieldCertFile, "needs %s (the client certificate's private key)", fieldKeyFile)
	}
	if o.TLS.KeyFile != "" && o.TLS.CertFile == "" {
		return c.Errorf(fieldKeyFile, "needs %s (the client certificate)", fieldCertFile)
	}
	if _, err := (TLSOptions{CAFile: o.TLS.CAFile}).tlsConfig(); err != nil {
		return c.Errorf(fieldCAFile, "%v", err)
	}
	if _, err := o.TLS.tlsConfig(); err != nil {
		return c.Errorf(fieldCertFile, "%v", err)
	}
	return nil
}

// checkURL accepts the schemes of a plain or TLS TCP connection.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return fmt.Errorf("not a URL: %v", err)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return fmt.Errorf("%q: scheme %q is not supported (want tcp:// or ssl://)", u.Redacted(), u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", u.Redacted())
	}
	return nil
}

// redact returns a URL with the password of its user info replaced by "xxxxx", for logs
// and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// checkFilter validates an MQTT topic filter (MQTT 3.1.1 §4.7.1): non-empty, '#' only as
// the whole last level, '+' only as a whole level.
func checkFilter(f string) error {
	if f == "" {
		return errors.New("empty topic filter")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("topic filter %q: # must be the whole last level", f)
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("topic filter %q: + must be a whole level", f)
		}
	}
	return nil
}

// checkTopic validates a topic name to publish to: non-empty, no wildcards.
func checkTopic(t string) error {
	if t == "" || strings.ContainsAny(t, "+#") {
		return fmt.Errorf("topic %q: want a topic name without wildcards", t)
	}
	return nil
}

// Source is the MQTT input: a paho client subscribed with QoS 1 in a persistent session,
// acking each message only when its record has been committed.
//
// Delivery. Auto-ack is off (ClientOptions.SetAutoAckDisabled): every record carries a
// pipeline.Ack that calls paho's Message.Ack once the sink has committed it (Record.Done).
// A message not committed before a crash or a drain is not acked and the broker
// redelivers it in the next session; the store deduplicates the redelivery.
//
// Order and backpressure. Paho's router is used with OrderMatters(true): it calls the
// handler synchronously on one goroutine, in the order the PUBLISH packets arrived, and
// the handler sends the record straight into the pipeline's channel. So the pipeline sees
// each device's readings in broker order (the window operators need it), and when the
// pipeline is full the handler blocks, paho stops reading the socket, TCP flow control
// stops the broker, and the backlog stays at the broker, not in this process.
// OrderMatters(false) was rejected: paho then runs every handler in its own goroutine, so
// order is lost and a slow pipeline piles up one goroutine per message (paho issue #453
// recommends it for handlers that block, but only for order-insensitive work), and a
// single forwarding goroutine cannot restore an order that the scheduler has already
// shuffled.
//
// The cost of blocking: while the handler waits, paho reads nothing, including the
// PINGRESP, so a pipeline stalled longer than keepalive + 10 s (paho's ping timeout) makes
// paho drop and re-establish the connection (paho issue #208). Nothing is lost: the
// connection comes back when the pipeline moves, and messages whose ack was in flight are
// redelivered (paho drops an ack made after its connection was lost; issue #726). Acks are
// not affected by the blocked handler: paho sends them from another goroutine. To avoid
// the stall entirely, cap the broker's in-flight window for this client (Mosquitto
// max_inflight_messages) at or below the pipeline's buffer.
type Source struct {
	opts   SourceOptions
	url    string // opts.URL without a password, for logs and errors
	log    *slog.Logger
	m      *pipeline.Metrics
	client paho.Client

	// fatal receives an error that retrying cannot fix (a refused subscription).
	fatal chan error

	// mu guards out and draining: the handler holds a read lock while it may send on
	// out, and Run takes the write lock before it returns, so nothing is sent on out
	// after Run has returned.
	mu       sync.RWMutex
	out      chan<- *pipeline.Record
	draining bool
	// drain is closed when Run stops delivering; it unblocks a waiting handler.
	drain     chan struct{}
	drainOnce sync.Once
	closeOnce sync.Once
	// ready is closed after the first successful subscription; subscribed is true from
	// each successful subscription until the connection is lost (Health).
	ready      chan struct{}
	readyOnce  sync.Once
	subscribed atomic.Bool

	// presence is the expanded presence topic ("" = off); stopAnnounce ends the
	// heartbeat (presence.go).
	presence     string
	stopAnnounce chan struct{}
	// tlsConf is the TLS configuration of a TLS URL (nil for tcp://).
	tlsConf *tls.Config
	// lossMu guards connectedAt (the last connect) and quickLosses (connections lost
	// soon after they were made, in a row).
	lossMu      sync.Mutex
	connectedAt time.Time
	quickLosses int
}

// NewSource returns an unconnected Source; Run connects. Zero KeepAlive and ConnectRetry
// take their defaults. env.Log and env.Metrics are used when set.
func NewSource(o SourceOptions, env *pipeline.Env) (*Source, error) {
	if o.KeepAlive == 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.ConnectRetry == 0 {
		o.ConnectRetry = DefaultConnectRetry
	}
	if o.ClientID == "" || len(o.Topics) == 0 || o.URL == "" {
		return nil, errors.New("mqtt source: URL, Topics and ClientID are required")
	}
	s := &Source{
		opts:  o,
		url:   redact(o.URL),
		log:   slog.Default(),
		fatal: make(chan error, 1),
		drain: make(chan struct{}),
		ready: make(chan struct{}),

		stopAnnounce: make(chan struct{}),
	}
	if o.PresenceTopic != "" {
		s.presence = presenceTopic(o.PresenceTopic, o.ClientID)
	}
	if env != nil {
		if env.Log != nil {
			s.log = env.Log
		}
		s.m = env.Metrics
	}
	s.log = s.log.With("connector", "mqtt", "client_id", o.ClientID)
	if o.QoS == 0 || o.CleanSession {
		s.log.Warn("mqtt input: delivery is at most once (qos 0 or clean_session true): messages are lost when edgepipe stops or the connection drops")
	}

	po := paho.NewClientOptions().
		AddBroker(o.URL).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetPassword(o.Password).
		SetCleanSession(o.CleanSession).
		SetKeepAlive(o.KeepAlive).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(o.ConnectRetry).
		SetConnectRetry(false). // the first connection is retried by Run, which can tell a refusal from an outage
		SetConnectTimeout(10 * time.Second).
		SetCustomOpenConnectionFn(Dial). // buffered reads, coalesced acks (bufconn.go)
		SetStore(newSessionStore()).     // without the received messages (store.go)
		SetDefaultPublishHandler(s.handle).
		SetOnConnectHandler(s.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.subscribed.Store(false)
			s.setConnected(0)
			s.log.Warn("mqtt connection lost; reconnecting", "err", err)
			s.noteLoss()
		}).
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) {
			s.log.Info("mqtt reconnecting", "url", s.url)
		})
	if isTLSURL(o.URL) {
		tc, err := o.TLS.tlsConfig()
		if err != nil {
			return nil, fmt.Errorf("mqtt source: %w", err)
		}
		if o.TLS.InsecureSkipVerify {
			s.log.Warn("mqtt input: insecure_skip_verify is on: the broker's certificate is not verified (anyone on the path can impersonate it)")
		}
		s.tlsConf = tc
		po.SetTLSConfig(tc)
	}
	if s.presence != "" {
		po.SetWill(s.presence, presenceOffline, 1, true)
	}
	s.client = paho.NewClient(po)
	return s, nil
}

// Run connects, subscribes and delivers every message as a Record (topic, payload,
// arrival time) to out, in arrival order, until ctx is cancelled; then it stops
// delivering and returns nil, keeping the connection open for the acks of records still
// in flight until Close. It does not unsubscribe: the persistent session keeps the
// subscription and queues new messages for the next run.
//
// The first connection is retried with backoff (250 ms doubling to ConnectRetry) while
// the broker is unreachable; Run returns an error at once when the broker refuses the
// connection for a reason retrying cannot fix (bad user name or password, not
// authorized, identifier rejected, protocol version), or refuses a subscription.
// Later connection losses are repaired by paho's auto-reconnect, for ever.
func (s *Source) Run(ctx context.Context, out chan<- *pipeline.Record) error {
	s.mu.Lock()
	s.out = out
	s.mu.Unlock()
	defer s.stopDelivering()

	if err := s.connect(ctx); err != nil {
		return err
	}
	if s.presence != "" && ctx.Err() == nil {
		go s.announce(s.stopAnnounce)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.fatal:
		return err
	}
}

// connect makes the first connection, retrying transient failures until ctx ends.
func (s *Source) connect(ctx context.Context) error {
	wait := firstRetry
	for {
		var err error
		if s.presence != "" {
			err = s.checkPresence(ctx.Done())
			if errors.Is(err, errClientIDInUse) {
				return err
			}
		}
		if err == nil {
			tok := s.client.Connect()
			select {
			case <-tok.Done():
			case <-ctx.Done():
				return nil
			}
			err = tok.Error()
		}
		if err == nil {
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("mqtt %s: connection refused: %w (check username, password and the broker's ACL for client id %q)", s.opts.URL, err, s.opts.ClientID)
		}
		if tlsRefused(err) {
			return fmt.Errorf("mqtt %s: TLS handshake failed: %w (check ca_file, cert_file and key_file)", s.url, err)
		}
		s.log.Warn("mqtt connect failed; retrying", "url", s.url, "err", err, "in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
		wait = min(2*wait, s.opts.ConnectRetry)
	}
}

// permanent reports whether a CONNACK refusal cannot be fixed by retrying.
func permanent(err error) bool {
	for _, p := range []error{packets.ErrorRefusedBadUsernameOrPassword, packets.ErrorRefusedNotAuthorised,
		packets.ErrorRefusedIDRejected, packets.ErrorRefusedBadProtocolVersion} {
		if errors.Is(err, p) {
			return true
		}
	}
	return false
}

// tlsRefused reports whether a connection failed because a certificate was rejected: the
// broker's by this client (unknown authority, wrong host name, expired) or this client's
// by the broker (a TLS alert: bad, missing or unknown certificate). Retrying cannot fix it.
func tlsRefused(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) ||
		errors.As(err, &invalid) ||
		// crypto/tls reports an alert from the peer as this text (its type is unexported).
		strings.Contains(err.Error(), "remote error: tls:")
}

// onConnect (re)subscribes after every connection: with a persistent session the broker
// still has the subscription, and subscribing again is harmless; with a clean session it
// is needed. It runs on its own goroutine (paho starts it with go).
func (s *Source) onConnect(c paho.Client) {
	s.setConnected(1)
	s.lossMu.Lock()
	s.connectedAt = time.Now()
	s.lossMu.Unlock()
	s.publishPresence(presenceOnline)
	filters := make(map[string]byte, len(s.opts.Topics))
	for _, t := range s.opts.Topics {
		filters[t] = s.opts.QoS
	}
	// A nil callback routes every message to the default handler, so a message that
	// matches several filters is still handled once, and messages the broker sends from
	// the stored session before this SUBSCRIBE completes are not missed.
	var tok paho.Token
	for wait := firstRetry; ; wait = min(2*wait, s.opts.ConnectRetry) {
		tok = s.client.SubscribeMultiple(filters, nil)
		tok.Wait()
		err := tok.Error()
		if err == nil {
			break
		}
		if !s.client.IsConnectionOpen() {
			return // the next connection subscribes again
		}
		s.log.Warn("mqtt subscribe failed; retrying", "err", err, "in", wait)
		select {
		case <-time.After(wait):
		case <-s.drain:
			return
		}
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return
	}
	for topic, granted := range st.Result() {
		if granted == subackFailure {
			select {
			case s.fatal <- fmt.Errorf("mqtt %s: subscription to %q refused by the broker (not authorized?)", s.url, topic):
			default:
			}
			return
		}
		if granted < s.opts.QoS {
			s.log.Warn("mqtt broker granted a lower QoS than asked: delivery is at most once", "topic", topic, "granted", granted)
		}
	}
	s.log.Info("mqtt subscribed", "url", s.url, "topics", s.opts.Topics, "qos", s.opts.QoS)
	s.subscribed.Store(true)
	s.readyOnce.Do(func() { close(s.ready) })
}

// Ready returns a channel closed once the source has connected and its subscription was
// granted (pipeline.Readier). Until then, a new session's messages are not queued.
func (s *Source) Ready() <-chan struct{} { return s.ready }

// handle is paho's message handler; it runs on paho's router goroutine, one message at a
// time in arrival order, and blocks while the pipeline is full (see Source).
func (s *Source) handle(_ paho.Client, msg paho.Message) {
	if s.presence != "" && strings.HasPrefix(msg.Topic(), s.presence) {
		msg.Ack() // this pipeline's own presence, matched by a wide filter (#): not a reading
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.draining {
		return // not acked: the broker redelivers it in the next session
	}
	rec := pipeline.NewAckedRecord(msg.Topic(), msg.Payload(), time.Now().UTC(), msg)
	select {
	case <-s.drain:
		return
	default:
	}
	select {
	case s.out <- rec: // without blocking first: a select over both channels locks them both
	default:
		select {
		case s.out <- rec:
		case <-s.drain:
			return
		}
	}
	if s.m != nil {
		s.m.Received.Inc()
	}
}

// stopDelivering ends delivery to out and waits until no handler can send on it.
func (s *Source) stopDelivering() {
	s.drainOnce.Do(func() { close(s.drain) })
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
}

func (s *Source) setConnected(v float64) {
	if s.m != nil {
		s.m.Connected.WithLabelValues("mqtt").Set(v)
	}
}

// Close stops delivery and disconnects, giving paho 250 ms to send pending acks. Acks
// made after Close are dropped; their messages are redelivered in the next session.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.stopDelivering()
		close(s.stopAnnounce)
		s.publishPresence(presenceOffline) // a clean DISCONNECT does not fire the will
		s.client.Disconnect(disconnectQuiesce)
		s.subscribed.Store(false)
		s.setConnected(0)
	})
	return nil
}
