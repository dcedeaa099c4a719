package mqtt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// pki is a test CA with a server certificate for 127.0.0.1/localhost and a client
// certificate, written as PEM files (mode 0644) in dir.
type pki struct {
	dir                                       string
	ca, serverCert, serverKey, cert, key, ca2 string
}

// newPKI generates the certificates (ECDSA P-256, valid for one hour) in a folder under
// os.TempDir() readable by the mosquitto user (Mosquitto started as root drops to it).
func newPKI(t *testing.T) *pki {
	t.Helper()
	dir, err := os.MkdirTemp("", "edgepipe-mqtt-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: dir}
	caCert, caKey := genCert(t, dir, "ca", "edgepipe test CA", nil, nil, true)
	p.ca = filepath.Join(dir, "ca.pem")
	genCert(t, dir, "server", "localhost", caCert, caKey, false)
	p.serverCert, p.serverKey = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	genCert(t, dir, "client", "edge-gw1", caCert, caKey, false)
	p.cert, p.key = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	genCert(t, dir, "ca2", "another CA", nil, nil, true)
	p.ca2 = filepath.Join(dir, "ca2.pem")
	return p
}

// genCert writes name.pem and name.key: a CA when isCA (self-signed when parent is nil),
// else a leaf for 127.0.0.1/localhost usable by a server and a client.
func genCert(t *testing.T, dir, name, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
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
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(dir, name+".key"), "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	// 0644: the broker runs as another user (test keys only).
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mqttYAML is an mqtt input section with url and the extra lines.
func mqttYAML(url string, lines ...string) string {
	y := "  type: mqtt\n  url: " + url + "\n  topics: [t]\n  client_id: c\n"
	for _, l := range lines {
		y += "  " + l + "\n"
	}
	return y
}

func TestBuildTLS(t *testing.T) {
	p := newPKI(t)
	logs := &strings.Builder{}
	env := testEnv()
	env.Log = slog.New(slog.NewTextHandler(logs, nil))
	env.Dir = p.dir
	cfg, err := pipeline.Parse("test.yaml", []byte("site: s\nfields: [value]\nstore: {type: stub}\nsummarize: {type: stub}\ninput:\n"+
		mqttYAML("ssl://127.0.0.1:8883", "ca_file: ca.pem", "cert_file: client.pem", "key_file: client.key", "insecure_skip_verify: true")))
	if err != nil {
		t.Fatal(err)
	}
	v, err := cfg.Input.Spec.Build(cfg.Input, env)
	if err != nil {
		t.Fatal(err)
	}
	s := v.(*Source)
	want := TLSOptions{CAFile: p.ca, CertFile: p.cert, KeyFile: p.key, InsecureSkipVerify: true}
	if s.opts.TLS != want {
		t.Fatalf("TLS options %+v, want %+v (paths relative to the config)", s.opts.TLS, want)
	}
	if c := s.tlsConf; c == nil || c.MinVersion != tls.VersionTLS12 || len(c.Certificates) != 1 || c.RootCAs == nil || !c.InsecureSkipVerify {
		t.Fatalf("tls.Config %+v, want TLS 1.2+, one client certificate, the CA pool", c)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "insecure_skip_verify") {
		t.Errorf("no warning about insecure_skip_verify; logs: %s", logs.String())
	}

	v, err = tryBuild(mqttYAML("tcp://127.0.0.1:1883"))
	if err != nil || v.(*Source).tlsConf != nil {
		t.Fatalf("tcp:// gets a TLS config (%v)", err)
	}

	bad := map[string]struct {
		yaml, want string
	}{
		"cert without key": {mqttYAML("ssl://h:8883", "cert_file: "+p.cert), "cert_file: needs key_file"},
		"key without cert": {mqttYAML("ssl://h:8883", "key_file: "+p.key), "key_file: needs cert_file"},
		"missing CA":       {mqttYAML("ssl://h:8883", "ca_file: "+filepath.Join(p.dir, "nope.pem")), "ca_file: stat"},
		"CA not PEM cert":  {mqttYAML("ssl://h:8883", "ca_file: "+p.key), "ca_file: " + p.key + ": no PEM certificate found"},
		"key mismatch":     {mqttYAML("ssl://h:8883", "cert_file: "+p.cert, "key_file: "+p.serverKey), "cert_file: client certificate"},
		"TLS file on tcp":  {mqttYAML("tcp://h:1883", "ca_file: "+p.ca), `ca_file: set, but url "tcp://h:1883" is not a TLS URL`},
	}
	for name, c := range bad {
		_, err := tryBuild(c.yaml)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, c.want)
		}
	}
}

// TestConfigErrorsHideSecrets checks that a config error never prints the password, set
// in its field or in the URL's user info.
func TestConfigErrorsHideSecrets(t *testing.T) {
	for _, url := range []string{"http://edge:hunter2@h:1", "ssl://edge:hunter2@", "tcp://edge:hunter2@h:1/%zz"} {
		_, err := tryBuild(mqttYAML(url, "username: edge", "password: pw-s3cr3t"))
		if err == nil {
			t.Fatalf("%s: no error", url)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "pw-s3cr3t") {
			t.Errorf("%s: error prints a password: %v", url, err)
		}
	}
	if got := redact("ssl://edge:hunter2@h:8883"); got != "ssl://edge:xxxxx@h:8883" {
		t.Errorf("redact = %q", got)
	}
}
