package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestListenAddrDefaultsToLoopback(t *testing.T) {
	for in, want := range map[string]string{":9464": "127.0.0.1:9464", "0.0.0.0:9464": "0.0.0.0:9464", "[::1]:80": "[::1]:80", "localhost:1": "localhost:1"} {
		if got, err := listenAddr(in); err != nil || got != want {
			t.Errorf("listenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := listenAddr("9464"); err == nil {
		t.Error("listenAddr(\"9464\") (no colon) did not fail")
	}
}

// TestPprofListensOnLoopbackOnly starts the profiler on a port alone and fetches its index.
func TestPprofListensOnLoopbackOnly(t *testing.T) {
	srv, err := listen(":0", pprofHandler())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.Addr, "127.0.0.1:") {
		t.Fatalf("bound %s, want 127.0.0.1", srv.Addr)
	}
	resp, err := http.Get("http://" + srv.Addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("/debug/pprof/: %d\n%s", resp.StatusCode, body)
	}
}
