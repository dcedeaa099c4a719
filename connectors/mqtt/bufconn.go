package mqtt

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/proxy"
)

const (
	// connReadBuffer is the read buffer of a broker connection (bytes): paho reads each
	// packet with three or more small reads (the first byte, the length bytes, the
	// body), which without a buffer are as many system calls per message.
	connReadBuffer = 64 << 10
	// connMaxPending is how many written bytes may wait to be sent before Write blocks
	// (backpressure from a broker that stops reading).
	connMaxPending = 256 << 10
	// connCloseFlush bounds how long Close waits to send what is still pending (a final
	// PUBACK, the DISCONNECT) before it closes the connection anyway.
	connCloseFlush = time.Second
)

// Dial is a paho.OpenConnectionFunc (ClientOptions.SetCustomOpenConnectionFn) for the
// source and for publishers that send many messages: it opens the connection as paho's
// own dialer does for the URL schemes the input accepts (tcp:// and mqtt:// through a
// proxy from the environment, if any; ssl://, tls:// and mqtts:// with
// options.TLSConfig, through all_proxy when set) and returns it with a read buffer and
// coalesced writes (bufferedConn). It returns the dial or TLS handshake error, or an
// error for another scheme.
func Dial(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: o.ConnectTimeout}
	}
	var conn net.Conn
	var err error
	switch uri.Scheme {
	case "tcp", "mqtt":
		conn, err = proxy.FromEnvironmentUsing(d).Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts":
		conn, err = dialTLS(d, uri.Host, o.TLSConfig)
	default:
		err = errors.New("unsupported scheme " + uri.Scheme)
	}
	if err != nil {
		return nil, err
	}
	return newBufferedConn(conn), nil
}

// dialTLS opens a TLS connection to host with config, through the proxy of the
// all_proxy variable when it is set (as paho does).
func dialTLS(d *net.Dialer, host string, config *tls.Config) (net.Conn, error) {
	if os.Getenv("all_proxy") == "" {
		return tls.DialWithDialer(d, "tcp", host, config)
	}
	raw, err := proxy.FromEnvironment().Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, config)
	if err := c.Handshake(); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// bufferedConn is a broker connection with a read buffer and coalesced writes.
//
// Reads go through a bufio.Reader: paho's single reading goroutine then makes one
// system call per buffer of packets instead of three or more per packet.
//
// Writes are appended to a pending buffer and sent by a goroutine of the connection, so
// the PUBACKs that a store commit releases all at once (paho writes each on its own)
// leave in a few writes instead of one system call and one TCP segment each — the
// broker reads them in a few calls too; a publisher's PUBLISHes likewise. Nothing waits
// for a timer: a write is sent as soon as the sender is free, and what arrives while it
// sends goes in the next write. The order of the bytes is kept. A failed send is returned by every later Write (paho
// then treats the connection as lost; the acks that were pending are lost with it and
// their messages are redelivered, as when paho drops an ack after a connection loss).
// Write blocks while connMaxPending bytes are waiting.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu   sync.Mutex
	cond *sync.Cond // signalled when pending grows or shrinks, and on close
	// pending are the bytes written and not yet sent; err is the failed send, after
	// which Write fails; closing is set by Close.
	pending []byte
	err     error
	closing bool
	// sent is closed when the sender has ended (pending sent, a send failed or closed).
	sent chan struct{}
}

// newBufferedConn wraps conn and starts its sender.
func newBufferedConn(conn net.Conn) *bufferedConn {
	c := &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, connReadBuffer), sent: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go c.send()
	return c
}

// Read reads from the read buffer.
func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write queues p for the sender. It returns the error of an earlier failed send, or
// net.ErrClosed after Close.
func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && !c.closing && len(c.pending) >= connMaxPending {
		c.cond.Wait()
	}
	switch {
	case c.err != nil:
		return 0, c.err
	case c.closing:
		return 0, net.ErrClosed
	}
	c.pending = append(c.pending, p...)
	c.cond.Broadcast()
	return len(p), nil
}

// send sends the pending bytes, all that have gathered in one write, until Close (after
// sending what is left) or a failed write.
func (c *bufferedConn) send() {
	defer close(c.sent)
	var spare []byte
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.pending) == 0 && !c.closing {
			c.cond.Wait()
		}
		if len(c.pending) == 0 {
			return // closing, everything sent
		}
		b := c.pending
		c.pending = spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(b)
		c.mu.Lock()
		spare = b
		c.cond.Broadcast() // room for blocked writers
		if err != nil {
			c.err, c.pending = err, nil
			return
		}
	}
}

// Close sends what is pending (waiting at most connCloseFlush after the first Close)
// and closes the connection. paho closes a connection from two goroutines at once (the
// writer after the DISCONNECT, and its shutdown); each waits for the last send.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	first := !c.closing
	c.closing = true
	c.cond.Broadcast()
	c.mu.Unlock()
	if first {
		c.Conn.SetWriteDeadline(time.Now().Add(connCloseFlush))
	}
	<-c.sent
	return c.Conn.Close()
}
