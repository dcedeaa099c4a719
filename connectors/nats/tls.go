package natsconn

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// tlsFiles are the PEM files of a TLS connection: the CA that signs the server's
// certificate ("" = the system's roots) and an optional client certificate and key.
type tlsFiles struct {
	ca, cert, key string // resolved paths
}

// set reports whether any TLS file is configured.
func (t tlsFiles) set() bool { return t.ca != "" || t.cert != "" || t.key != "" }

// config builds the client TLS configuration (TLS 1.2 or later). Errors name the file
// that cannot be read or parsed; they never contain key material.
func (t tlsFiles) config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.ca != "" {
		pem, err := os.ReadFile(t.ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", t.ca)
		}
		c.RootCAs = pool
	}
	if t.cert != "" {
		cert, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s / key %s: %w", t.cert, t.key, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
