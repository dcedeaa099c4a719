// Package embedded runs an in-process MQTT broker (mochi-mqtt) and NATS server with JetStream (nats-server) on free local ports for the default, all-embedded setup and for tests.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// MQTTMaxSession is how many unacknowledged QoS 1 messages the embedded broker keeps per
// persistent session (while the client is offline or slower than the publishers). It is
// mochi's ceiling: packet ids are 16-bit. Beyond it mochi drops the message for that
// session, logs "client store quota reached" at warn level and counts it in Dropped.
const MQTTMaxSession = 65535

// MQTTBroker is an in-process MQTT 3.1.1/5 broker (mochi-mqtt v2) listening on one TCP
// address.
//
// It accepts every client without credentials (mochi's auth.AllowHook), which is why
// StartMQTT refuses to listen anywhere but a loopback address: only programs on this host
// can reach it.
//
// It is configured so that QoS 1 messages of a persistent session (clean session off) are
// kept, not dropped, while the client is offline or slow:
//   - MaximumInflight = 65535: the per-session store of unacknowledged QoS 1 messages
//     (mochi's default, 8192, would drop a longer backlog).
//   - MaximumClientWritesPending = 65536: mochi queues writes to a connected client in a
//     channel of this size and DROPS the message (and forgets it, in flight or not) when
//     the channel is full, which happens when a v3.1.1 client stops reading because its
//     pipeline is full. Paho (MQTT 3.1.1) sends no Receive Maximum, so mochi applies no
//     send quota to it and the only bound is this channel; sizing it above
//     MaximumInflight makes the session store the limit instead (8 bytes per slot, about
//     0.5 MiB per client).
//   - MaximumMessageExpiryInterval = 0: a queued message never expires (mochi's default
//     deletes stored messages after 24 h).
//   - MaximumSessionExpiryInterval stays at its default (never).
//
// When a session reconnects, its stored messages are resent in the order they were first
// sent (mochi v2.7.9 alone would shuffle those that arrived within one second; the
// resendInOrder hook fixes that), then live delivery continues in order.
type MQTTBroker struct {
	server *mochi.Server
	addr   string
	once   sync.Once
	err    error
}

// StartMQTT starts a broker listening on addr, host:port with a loopback host
// ("127.0.0.1:0" picks a free port; the default MQTT port 1883 need not be free). It
// returns an error when addr is not a loopback address or cannot be listened on.
func StartMQTT(addr string) (*MQTTBroker, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded mqtt: address %q: %w", addr, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("embedded mqtt: address %q is not a loopback address: the embedded broker accepts anonymous clients there, so anywhere else it needs a user name and password (StartMQTTAuth)", addr)
	}
	return startMQTT(addr, new(auth.AllowHook), nil)
}

// StartMQTTAuth starts a broker on addr, which may be any address (":1883", a LAN
// address), that accepts only clients authenticating with username and password (MQTT
// CONNECT credentials). It returns an error when either is empty or addr cannot be
// listened on. The password is never logged or returned in an error.
func StartMQTTAuth(addr, username, password string) (*MQTTBroker, error) {
	if username == "" || password == "" {
		return nil, fmt.Errorf("embedded mqtt: a broker listening on %q needs a user name and a password", addr)
	}
	ledger := &auth.Ledger{Users: auth.Users{username: {Username: auth.RString(username), Password: auth.RString(password)}}}
	return startMQTT(addr, new(auth.Hook), &auth.Options{Ledger: ledger})
}

// startMQTT starts the broker on addr with the authentication hook h (configured with
// hookConfig).
func startMQTT(addr string, h mochi.Hook, hookConfig any) (*MQTTBroker, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded mqtt: listen: %w", err)
	}
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumInflight = MQTTMaxSession
	caps.MaximumClientWritesPending = MQTTMaxSession + 1
	caps.MaximumMessageExpiryInterval = 0
	opts := &mochi.Options{
		Capabilities: caps,
		Logger:       slog.New(warnOnly{slog.Default().Handler()}).With("component", "embedded-mqtt"),
	}
	s := mochi.New(opts)
	if err := s.AddHook(h, hookConfig); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded mqtt: %w", err)
	}
	if err := s.AddHook(new(resendInOrder), nil); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded mqtt: %w", err)
	}
	if err := s.AddListener(listeners.NewNet("edgepipe", ln)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded mqtt: %w", err)
	}
	if err := s.Serve(); err != nil {
		s.Close()
		return nil, fmt.Errorf("embedded mqtt: serve: %w", err)
	}
	return &MQTTBroker{server: s, addr: ln.Addr().String()}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL returns the broker's address for MQTT clients on this machine, "tcp://HOST:PORT";
// a broker listening on every interface (":1883", "0.0.0.0:1883") is reached at
// 127.0.0.1.
func (b *MQTTBroker) URL() string {
	host, port, err := net.SplitHostPort(b.addr)
	if err != nil {
		return "tcp://" + b.addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "tcp://" + net.JoinHostPort(host, port)
}

// Dropped returns how many messages the broker has dropped for slow or offline clients
// since it started (QoS 0 messages to a slow client, and QoS 1 messages beyond
// MQTTMaxSession per session). It stays 0 when nothing was lost.
func (b *MQTTBroker) Dropped() int64 {
	return atomic.LoadInt64(&b.server.Info.MessagesDropped) + atomic.LoadInt64(&b.server.Info.InflightDropped)
}

// Close disconnects every client and stops the broker; stored sessions are lost (the
// broker keeps them in memory only). It is safe to call more than once.
func (b *MQTTBroker) Close() error {
	b.once.Do(func() { b.err = b.server.Close() })
	return b.err
}

// warnOnly passes mochi's warnings and errors to the process's default logger, so that a
// lost message ("client store quota reached") is visible while info chatter is not. It
// drops mochi's message-less warning that its listener logs whenever a client connection
// ends (EOF on every normal disconnect).
type warnOnly struct{ slog.Handler }

func (h warnOnly) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "" {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnOnly) WithAttrs(as []slog.Attr) slog.Handler {
	return warnOnly{h.Handler.WithAttrs(as)}
}

func (h warnOnly) WithGroup(name string) slog.Handler { return warnOnly{h.Handler.WithGroup(name)} }
