package mqtt

import (
	"crypto/tls"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgepipe/edgepipe/internal/testpki"
	"github.com/edgepipe/edgepipe/pipeline"
)

// mqttYAML is an mqtt input section with url and the extra lines.
func mqttYAML(url string, lines ...string) string {
	y := "  type: mqtt\n  url: " + url + "\n  topics: [t]\n  client_id: c\n"
	for _, l := range lines {
		y += "  " + l + "\n"
	}
	return y
}

func TestBuildTLS(t *testing.T) {
	p := testpki.New(t)
	logs := &strings.Builder{}
	env := testEnv()
	env.Log = slog.New(slog.NewTextHandler(logs, nil))
	env.Dir = p.Dir
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
	want := TLSOptions{CAFile: p.CA, CertFile: p.Cert, KeyFile: p.Key, InsecureSkipVerify: true}
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
		"cert without key": {mqttYAML("ssl://h:8883", "cert_file: "+p.Cert), "cert_file: needs key_file"},
		"key without cert": {mqttYAML("ssl://h:8883", "key_file: "+p.Key), "key_file: needs cert_file"},
		"missing CA":       {mqttYAML("ssl://h:8883", "ca_file: "+filepath.Join(p.Dir, "nope.pem")), "ca_file: stat"},
		"CA not PEM cert":  {mqttYAML("ssl://h:8883", "ca_file: "+p.Key), "ca_file: " + p.Key + ": no PEM certificate found"},
		"key mismatch":     {mqttYAML("ssl://h:8883", "cert_file: "+p.Cert, "key_file: "+p.ServerKey), "cert_file: client certificate"},
		"TLS file on tcp":  {mqttYAML("tcp://h:1883", "ca_file: "+p.CA), `ca_file: set, but url "tcp://h:1883" is not a TLS URL`},
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
