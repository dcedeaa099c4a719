//go:build integration

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/edgepipe/edgepipe/internal/testserver"
)

// The delivery tests (issue 3) run real servers as child processes on free ports, so a
// test can stop, kill and restart them: Mosquitto with the no-loss settings of
// configs/mosquitto.conf, and nats-server with JetStream.

// lookBinary finds a server binary on PATH or in /usr/sbin (Debian's packages).
func lookBinary(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := "/usr/sbin/" + name
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found: install the Debian package %s (.ci/run does)", name, name)
	}
	return p
}

// server is a child-process server on a fixed port that can be stopped and started again.
type server struct {
	t    *testing.T
	name string
	port int
	args []string
	cmd  *exec.Cmd
}

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(lookBinary(s.t, s.name), s.args...)
	if testing.Verbose() {
		s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	testserver.WaitListening(s.t, s.port)
}

// stop ends the server with SIGTERM (a clean shutdown: Mosquitto saves its persistence
// file) and waits for it.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	s.cmd = nil
}

// startMosquitto runs Mosquitto on a free port with the settings of configs/mosquitto.conf
// (no queue limit, 1000 in flight, persistence) and its config in dir. Its persistence
// goes to a folder of its own under the system temp folder: Mosquitto started as root
// drops to the mosquitto user, which cannot enter a test's private temp folder.
func startMosquitto(t *testing.T, dir string) *server {
	t.Helper()
	port := testserver.FreePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	dir, err := os.MkdirTemp("", "edgepipe-it-mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
max_queued_messages 0
max_queued_bytes 536870912
max_inflight_messages 1000
persistence true
persistence_location %s/
autosave_interval 1
`, port, dir)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, name: "mosquitto", port: port, args: []string{"-c", conf}}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) mqttURL() string { return fmt.Sprintf("tcp://127.0.0.1:%d", s.port) }

// startNATS runs nats-server with JetStream on a free port, storing in dir.
func startNATS(t *testing.T, dir string) *server {
	t.Helper()
	port := testserver.FreePort(t)
	s := &server{t: t, name: "nats-server", port: port, args: []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir}}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) natsURL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// startServers starts a Mosquitto and a nats-server for one test, their files in a new
// temporary folder, and returns that folder (for the test's own files too) and the
// servers.
func startServers(t *testing.T) (dir string, mq, ns *server) {
	t.Helper()
	dir = t.TempDir()
	return dir, startMosquitto(t, dir), startNATS(t, filepath.Join(dir, "nats"))
}
