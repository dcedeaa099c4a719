package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// TLSOptions are the files of a TLS connection to the broker (PEM encoded). All empty and
// InsecureSkipVerify false = the system's root CAs and no client certificate.
type TLSOptions struct {
	// CAFile holds the CA certificate(s) that sign the broker's certificate; "" = the
	// system's roots.
	CAFile string
	// CertFile and KeyFile are the client certificate and its private key, for brokers
	// that require one (Mosquitto require_certificate); both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any broker certificate (tests only: it allows a
	// man-in-the-middle).
	InsecureSkipVerify bool
}

// isTLSURL reports whether a broker URL asks for TLS (ssl://, tls://, mqtts://).
func isTLSURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts":
		return true
	}
	return false
}

// tlsConfig builds the client TLS configuration (TLS 1.2 or later). Errors name the file
// that cannot be read or parsed; they never contain key material.
func (o TLSOptions) tlsConfig() (*tls.Config, error) {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("a client certificate needs both cert_file and key_file")
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", o.CAFile)
		}
		c.RootCAs = pool
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s / key %s: %w", o.CertFile, o.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
