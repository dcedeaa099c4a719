package mqtt

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the Read and Write calls that reach a connection; while gate is
// non-nil, each Write first waits for it to be closed.
type countingConn struct {
	net.Conn
	reads, writes atomic.Int32
	gate          chan struct{}
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.Conn.Write(p)
}

// TestBufferedConnCoalescesWrites writes 200 four-byte PUBACK-like packets while the
// first send is held up: they reach the connection in at most two writes, in order.
func TestBufferedConnCoalescesWrites(t *testing.T) {
	near, far := net.Pipe()
	defer far.Close()
	cc := &countingConn{Conn: near, gate: make(chan struct{})}
	c := newBufferedConn(cc)
	var want []byte
	for i := range 200 {
		p := []byte{0x40, 0x02, byte(i >> 8), byte(i)}
		want = append(want, p...)
		if n, err := c.Write(p); n != 4 || err != nil {
			t.Fatalf("Write %d = %d, %v", i, n, err)
		}
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(far)
		got <- b
	}()
	close(cc.gate)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, want the %d written, in order", len(b), len(want))
	}
	if n := cc.writes.Load(); n < 1 || n > 2 {
		t.Fatalf("%d writes reached the connection, want 1 or 2", n)
	}
}

// TestBufferedConnBuffersReads reads 300 bytes one at a time (as paho reads a packet's
// first byte and length): far fewer reads reach the connection.
func TestBufferedConnBuffersReads(t *testing.T) {
	near, far := net.Pipe()
	cc := &countingConn{Conn: near}
	c := newBufferedConn(cc)
	defer c.Close()
	msg := bytes.Repeat([]byte("0123456789"), 30)
	go func() {
		far.Write(msg)
		far.Close()
	}()
	got, err := io.ReadAll(io.LimitReader(oneByte{c}, int64(len(msg))))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("read %q, want %q", got, msg)
	}
	if n := cc.reads.Load(); n > 3 {
		t.Fatalf("%d reads reached the connection for %d one-byte reads, want ≤ 3", n, len(msg))
	}
}

// oneByte reads at most one byte per call.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(1, len(p))]) }

// TestBufferedConnCloseFromTwoGoroutines closes the connection from two goroutines at
// once, as paho does after a DISCONNECT: both wait, so what was pending is sent before
// the connection closes.
func TestBufferedConnCloseFromTwoGoroutines(t *testing.T) {
	near, far := net.Pipe()
	cc := &countingConn{Conn: near, gate: make(chan struct{})}
	c := newBufferedConn(cc)
	c.Write([]byte("puback"))
	c.Write([]byte("disconnect"))
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(far)
		got <- b
	}()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { c.Close() })
	}
	time.Sleep(10 * time.Millisecond) // both Close calls wait for the held-up send
	close(cc.gate)
	wg.Wait()
	if b := <-got; string(b) != "pubackdisconnect" {
		t.Fatalf("peer read %q, want pubackdisconnect", b)
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// TestBufferedConnReportsSendError: once a send fails, Write returns its error (paho
// then sees the connection as lost).
func TestBufferedConnReportsSendError(t *testing.T) {
	near, far := net.Pipe()
	far.Close()
	c := newBufferedConn(near)
	defer c.Close()
	c.Write([]byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Write([]byte("y"))
		if err != nil {
			if !errors.Is(err, io.ErrClosedPipe) {
				t.Fatalf("Write error %v, want the failed send's io.ErrClosedPipe", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Write still succeeds 5 s after the peer closed")
		}
		time.Sleep(time.Millisecond)
	}
}
