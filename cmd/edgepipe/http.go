package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgepipe/edgepipe/pipeline"
)

// listenAddr returns addr (host:port) with 127.0.0.1 as its host when it gives only a
// port (":9464"): the endpoints stay on this machine unless a host, such as 0.0.0.0, is
// named. It returns an error when addr is not host:port.
func listenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// listen opens a TCP listener on addr (see listenAddr) and serves h on it until the
// returned server is closed; the server's Addr is the address bound (the port chosen
// when addr asks for port 0).
func listen(addr string, h http.Handler) (*http.Server, error) {
	a, err := listenAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", a)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

// statusHandler serves edgepipe run's endpoints for pipeline p:
//
//   - /metrics: Prometheus metrics (p's registry);
//   - /healthz: 200 "ok" while the process runs the pipeline (liveness);
//   - /readyz: 200 when every readiness check passes (pipeline.Pipeline.Readiness: the
//     pipeline running and not draining, MQTT connected and subscribed, the store's last
//     transaction committed, NATS connected or the outbox under ready_outbox_limit), 503
//     otherwise; the body lists each check, one "name ok|FAIL: detail" line after a
//     first line "ready" or "not ready", or as JSON {"ready": bool, "checks": [{"name",
//     "ok", "detail"}]} with ?format=json or an Accept header naming application/json.
func statusHandler(p *pipeline.Pipeline) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.Env().Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		checks, ready := p.Readiness()
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(struct {
				Ready  bool             `json:"ready"`
				Checks []pipeline.Check `json:"checks"`
			}{ready, checks})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		if ready {
			fmt.Fprintln(w, "ready")
		} else {
			fmt.Fprintln(w, "not ready")
		}
		for _, c := range checks {
			fmt.Fprintln(w, c)
		}
	})
	return mux
}

// pprofHandler serves the Go profiler (net/http/pprof) under /debug/pprof/: CPU, heap,
// goroutine, block and mutex profiles and execution traces, for `go tool pprof`.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
