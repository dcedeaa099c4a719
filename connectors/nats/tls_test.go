package natsconn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

// testPKI is a generated CA with a server certificate for 127.0.0.1/localhost and a
// client certificate, as PEM files in a temporary folder.
type testPKI struct {
	dir                                  string
	ca, serverCert, serverKey, cert, key string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caCert, caKey := genCert(t, dir, "ca", nil, nil)
	genCert(t, dir, "server", caCert, caKey)
	genCert(t, dir, "client", caCert, caKey)
	j := func(n string) string { return filepath.Join(dir, n) }
	return testPKI{dir: dir, ca: j("ca.pem"), serverCert: j("server.pem"), serverKey: j("server.key"), cert: j("client.pem"), key: j("client.key")}
}

// genCert writes name.pem and name.key (ECDSA P-256, valid one hour): a self-signed CA
// when parent is nil, else a leaf for 127.0.0.1/localhost for server and client use.
func genCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "edgepipe test " + name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for path, b := range map[string]*pem.Block{name + ".pem": {Type: "CERTIFICATE", Bytes: der}, name + ".key": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, path), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestBuildTLSAndNkey(t *testing.T) {
	p := newTestPKI(t)
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	if err := os.WriteFile(filepath.Join(p.dir, "edge.nk"), seed, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := buildOutput(t, p.dir, "  url: tls://127.0.0.1:4222\n  nkey: edge.nk\n  ca_file: ca.pem\n  cert_file: client.pem\n  key_file: client.key\n")
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg.nkey != filepath.Join(p.dir, "edge.nk") || f.cfg.tls != (tlsFiles{ca: p.ca, cert: p.cert, key: p.key}) {
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
		_, err := buildOutput(t, p.dir, c.output)
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
