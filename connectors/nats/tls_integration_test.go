//go:build integration

package natsconn

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/edgepipe/edgepipe/internal/testpki"
	"github.com/edgepipe/edgepipe/internal/testserver"
)

const natsServerBin = "/usr/sbin/nats-server"

// startNATSServerTLS runs nats-server with JetStream and TLS that verifies client
// certificates signed by p.CA, plus the given arguments (authentication), and returns
// its tls:// URL.
func startNATSServerTLS(t *testing.T, p *testpki.PKI, args ...string) string {
	t.Helper()
	port := testserver.FreePort(t)
	all := append([]string{"-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", t.TempDir(),
		"--tls", "--tlscert", p.ServerCert, "--tlskey", p.ServerKey, "--tlsverify", "--tlscacert", p.CA}, args...)
	testserver.Start(t, natsServerBin, port, all...)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return "tls://" + addr
}

func TestIntegrationNATSTLS(t *testing.T) {
	p := testpki.New(t)
	files := tlsFiles{ca: p.CA, cert: p.Cert, key: p.Key}

	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	seedFile := filepath.Join(p.Dir, "edge.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	nkeyConf := filepath.Join(p.Dir, "nkey.conf")
	if err := os.WriteFile(nkeyConf, []byte(fmt.Sprintf("authorization { users = [ { nkey: %s } ] }\n", pub)), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string
		auth func(*config)
		opt  nats.Option
	}{
		{"token", []string{"--auth", "s3cr3t-token"}, func(c *config) { c.token = "s3cr3t-token" }, nats.Token("s3cr3t-token")},
		{"user password", []string{"--user", "edge", "--pass", "pw-9f2"}, func(c *config) { c.user, c.password = "edge", "pw-9f2" }, nats.UserInfo("edge", "pw-9f2")},
		{"nkey", []string{"-c", nkeyConf}, func(c *config) { c.nkey = seedFile }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := startNATSServerTLS(t, p, tc.args...)
			cfg := testConfig(url)
			cfg.tls = files
			tc.auth(&cfg)
			ob := newMemOutbox()
			ob.add(entry(1, "plant-1", "sensor-1", 60000))
			startForwarder(t, cfg, ob)
			ob.waitEmpty(t)

			tlsConf, err := files.config()
			if err != nil {
				t.Fatal(err)
			}
			opt := tc.opt
			if opt == nil {
				if opt, err = nats.NkeyOptionFromSeed(seedFile); err != nil {
					t.Fatal(err)
				}
			}
			nc, err := nats.Connect(url, nats.Secure(tlsConf), opt)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			msgs := streamMsgs(t, js, DefaultStream)
			if len(msgs) != 1 || msgs[0].Subject != Subject("edgepipe", "plant-1", "sensor-1") || msgs[0].Header.Get(nats.MsgIdHdr) != "plant-1/sensor-1/60000" {
				t.Fatalf("stream holds %d messages (first %+v), want the one summary", len(msgs), msgs)
			}
		})
	}

	t.Run("no client certificate", func(t *testing.T) {
		url := startNATSServerTLS(t, p, "--auth", "s3cr3t-token")
		cfg := testConfig(url)
		cfg.tls, cfg.token = tlsFiles{ca: p.CA}, "s3cr3t-token"
		ob := newMemOutbox()
		ob.add(entry(1, "plant-1", "sensor-1", 60000))
		r := startForwarder(t, cfg, ob)
		deadline := time.Now().Add(waitFor)
		for !strings.Contains(r.logs.String(), "remote error: tls: ") { // bad certificate or certificate required, by the server's Go version
			if time.Now().After(deadline) {
				t.Fatalf("no TLS refusal logged; logs:\n%s", r.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n, _ := ob.Len(context.Background()); n != 1 {
			t.Fatalf("outbox holds %d entries, want the unsent 1", n)
		}
		if strings.Contains(r.logs.String(), "s3cr3t-token") {
			t.Fatalf("logs print the token:\n%s", r.logs.String())
		}
	})
}
