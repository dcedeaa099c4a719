package natsconn

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/edgepipe/edgepipe/internal/testpki"
)

func TestBuildTLSAndNkey(t *testing.T) {
	p := testpki.New(t)
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	if err := os.WriteFile(filepath.Join(p.Dir, "edge.nk"), seed, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := buildOutput(t, p.Dir, "  url: tls://127.0.0.1:4222\n  nkey: edge.nk\n  ca_file: ca.pem\n  cert_file: client.pem\n  key_file: client.key\n")
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg.nkey != filepath.Join(p.Dir, "edge.nk") || f.cfg.tls != (tlsFiles{ca: p.CA, cert: p.Cert, key: p.Key}) {
		t.Fatalf("config %+v: want paths relative to the config file", f.cfg)
	}
	c, err := f.cfg.tls.config()
	if err != nil || c.MinVersion != tls.VersionTLS12 || len(c.Certificates) != 1 || c.RootCAs == nil {
		t.Fatalf("tls.Config %+v, %v: want TLS 1.2+, one client certificate, the CA pool", c, err)
	}

	cases := map[string]struct{ output, want string }{
		"nkey and token":   {"  url: nats://h\n  nkey: edge.nk\n  token: tk-s3cr3t\n", "use one of user/password, token, creds or nkey"},
		"nkey and creds":   {"  url: nats://h\n  nkey: edge.nk\n  creds: edge.nk\n", "use one of"},
		"missing nkey":     {"  url: nats://h\n  nkey: nope.nk\n", "nkey: stat"},
		"nkey not a seed":  {"  url: nats://h\n  nkey: ca.pem\n", "nkey: not an NKey seed file"},
		"cert without key": {"  url: tls://h\n  cert_file: client.pem\n", "cert_file: needs key_file"},
		"key without cert": {"  url: tls://h\n  key_file: client.key\n", "key_file: needs cert_file"},
		"CA not PEM cert":  {"  url: tls://h\n  ca_file: client.key\n", "no PEM certificate found"},
		"missing CA":       {"  url: tls://h\n  ca_file: nope.pem\n", "ca_file: stat"},
		"key mismatch":     {"  url: tls://h\n  cert_file: client.pem\n  key_file: server.key\n", "cert_file: client certificate"},
	}
	for name, c := range cases {
		_, err := buildOutput(t, p.Dir, c.output)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "tk-s3cr3t") || strings.Contains(err.Error(), string(seed))) {
			t.Errorf("%s: error prints a secret: %v", name, err)
		}
	}
}

// TestConfigErrorsHideSecrets checks that a config error never prints a password or
// token, set in its field or in the URL's user info.
func TestConfigErrorsHideSecrets(t *testing.T) {
	for _, url := range []string{"tcp://edge:hunter2@h:4222", "nats://edge:hunter2@", "nats://edge:hunter2@h:1/%zz", "nats://h:1, http://edge:hunter2@h"} {
		for _, auth := range []string{"  user: edge\n  password: pw-s3cr3t\n", "  token: tk-s3cr3t\n"} {
			_, err := buildOutput(t, "", "  url: "+url+"\n"+auth)
			if err == nil {
				t.Fatalf("%s: no error", url)
			}
			for _, secret := range []string{"hunter2", "pw-s3cr3t", "tk-s3cr3t"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%s: error prints %q: %v", url, secret, err)
				}
			}
		}
	}
	if got := redactURLs("tls://edge:hunter2@a:4222,nats://b:4222"); got != "tls://edge:xxxxx@a:4222,nats://b:4222" {
		t.Errorf("redactURLs = %q", got)
	}
}
