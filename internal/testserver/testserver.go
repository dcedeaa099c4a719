// Package testserver runs real server binaries (Mosquitto, nats-server) as child
// processes on free loopback ports for integration tests.
package testserver

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitListening waits up to 15 s until something accepts connections on 127.0.0.1:port,
// and fails the test otherwise.
func WaitListening(t testing.TB, port int) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s after 15 s", addr)
}

// Start runs bin with args, waits until it listens on port, and kills it when the test
// ends, printing its output if the test failed. It skips the test when bin is not
// installed.
func Start(t testing.TB, bin string, port int, args ...string) {
	t.Helper()
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not installed", bin)
	}
	var logs strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, logs.String())
		}
	})
	WaitListening(t, port)
}
