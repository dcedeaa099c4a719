package embedded

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// natsReadyTimeout bounds how long StartNATS waits for the server to accept clients.
const natsReadyTimeout = 10 * time.Second

// NATSServer is an in-process nats-server (v2) with JetStream enabled, listening on
// 127.0.0.1. It logs nothing and installs no signal handlers.
type NATSServer struct {
	srv  *server.Server
	port int
}

// StartNATS starts an in-process NATS server with JetStream storing its streams under
// dir (created if missing), on 127.0.0.1 and a free port chosen by the kernel, so it
// works when 4222 is taken. It returns an error when the server cannot be configured,
// cannot listen within 10 s, or JetStream could not be enabled (for example dir is not
// writable).
func StartNATS(dir string) (*NATSServer, error) { return StartNATSPort(dir, -1) }

// StartNATSPort is StartNATS on a given TCP port (-1 = a free port chosen by the
// kernel). Starting a new server on the port and dir of a stopped one recovers its
// streams: tests use it to simulate an uplink outage.
func StartNATSPort(dir string, port int) (*NATSServer, error) {
	if dir == "" {
		return nil, errors.New("embedded nats: empty JetStream store dir")
	}
	opts := &server.Options{
		ServerName: "edgepipe-embedded",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(natsReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready for connections on 127.0.0.1:%d within %s", port, natsReadyTimeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: JetStream could not be enabled with store dir %s", dir)
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: unexpected listen address %v", srv.Addr())
	}
	return &NATSServer{srv: srv, port: addr.Port}, nil
}

// URL returns the client URL, "nats://127.0.0.1:PORT".
func (s *NATSServer) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// Port returns the TCP port the server listens on.
func (s *NATSServer) Port() int { return s.port }

// Close shuts the server down and waits until it has stopped (JetStream state flushed
// to the store dir, port released).
func (s *NATSServer) Close() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
