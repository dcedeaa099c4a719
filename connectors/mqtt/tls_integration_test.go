//go:build integration

package mqtt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepipe/edgepipe/internal/testpki"
	"github.com/edgepipe/edgepipe/internal/testserver"
	"github.com/edgepipe/edgepipe/pipeline"
)

const mosquittoBin = "/usr/sbin/mosquitto"

// startMosquittoTLS runs Mosquitto with a TLS listener that requires a client
// certificate signed by p.CA, and returns its ssl:// URL.
func startMosquittoTLS(t *testing.T, p *testpki.PKI) string {
	t.Helper()
	port := testserver.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\nallow_anonymous true\npersistence false\n",
		port, p.CA, p.ServerCert, p.ServerKey)
	confPath := filepath.Join(p.Dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	testserver.Start(t, mosquittoBin, port, "-c", confPath)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return "ssl://" + addr
}

// runErr runs a source that must fail at connect and returns Run's error.
func runErr(t *testing.T, o SourceOptions) error {
	t.Helper()
	src, err := NewSource(o, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, make(chan *pipeline.Record, 1)) }()
	err = <-errc
	if err == nil {
		t.Fatal("Run kept retrying a TLS refusal instead of failing")
	}
	return err
}

func TestIntegrationMQTTTLS(t *testing.T) {
	p := testpki.New(t)
	url := startMosquittoTLS(t, p)
	good := TLSOptions{CAFile: p.CA, CertFile: p.Cert, KeyFile: p.Key}

	t.Run("client certificate", func(t *testing.T) {
		r := run(t, SourceOptions{URL: url, Topics: []string{"sensors/#", "probe"}, QoS: 1, ClientID: "tls-gw1", CleanSession: true, TLS: good}, testEnv(), 4)
		defer r.stop(t)
		tc, err := good.tlsConfig()
		if err != nil {
			t.Fatal(err)
		}
		pub := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("tls-pub").SetTLSConfig(tc))
		if tok := pub.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
			t.Fatalf("publisher connect: %v", tok.Error())
		}
		defer pub.Disconnect(0)
		waitSubscribed(t, r, pub)
		publish(t, pub, "sensors/d1/reading", `{"t":21.5}`)
		rec := r.next(t)
		if rec.Topic != "sensors/d1/reading" || string(rec.Payload) != `{"t":21.5}` {
			t.Fatalf("got %q %q", rec.Topic, rec.Payload)
		}
		rec.Done()
	})

	t.Run("no client certificate", func(t *testing.T) {
		err := runErr(t, SourceOptions{URL: url, Topics: []string{"t"}, QoS: 1, ClientID: "tls-nocert", TLS: TLSOptions{CAFile: p.CA}})
		t.Logf("refused: %v", err)
		if !strings.Contains(err.Error(), "TLS handshake failed") || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v, want a TLS refusal naming the certificate", err)
		}
	})

	t.Run("wrong CA", func(t *testing.T) {
		err := runErr(t, SourceOptions{URL: url, Topics: []string{"t"}, QoS: 1, ClientID: "tls-wrongca", TLS: TLSOptions{CAFile: p.OtherCA, CertFile: p.Cert, KeyFile: p.Key}})
		t.Logf("refused: %v", err)
		if !strings.Contains(err.Error(), "TLS handshake failed") || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("err = %v, want a verification failure (unknown authority)", err)
		}
	})
}
