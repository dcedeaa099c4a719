// Package testpki makes throwaway X.509 certificates for TLS tests: a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate, and a second CA that
// signed none of them, written as PEM files.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI holds the paths of the generated PEM files.
type PKI struct {
	// Dir is the folder holding them.
	Dir string
	// CA is the certificate of the CA that signed ServerCert and Cert.
	CA string
	// ServerCert and ServerKey are for 127.0.0.1 and localhost.
	ServerCert, ServerKey string
	// Cert and Key are a client certificate (CommonName "edge-gw1").
	Cert, Key string
	// OtherCA is a CA that signed neither: verifying against it fails.
	OtherCA string
}

// New generates the certificates (ECDSA P-256, valid for one hour) in a new folder under
// os.TempDir(), removed when the test ends. The folder (0755) and files (0644) are
// readable by other users, since a broker started as root may drop to its own user
// (Mosquitto does); the keys are test keys only.
func New(t testing.TB) *PKI {
	t.Helper()
	dir, err := os.MkdirTemp("", "edgepipe-test-pki-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	caCert, caKey := gen(t, dir, "ca", "edgepipe test CA", nil, nil)
	gen(t, dir, "server", "localhost", caCert, caKey)
	gen(t, dir, "client", "edge-gw1", caCert, caKey)
	gen(t, dir, "ca2", "another CA", nil, nil)
	j := func(n string) string { return filepath.Join(dir, n) }
	return &PKI{Dir: dir, CA: j("ca.pem"), ServerCert: j("server.pem"), ServerKey: j("server.key"),
		Cert: j("client.pem"), Key: j("client.key"), OtherCA: j("ca2.pem")}
}

// gen writes name.pem and name.key: a self-signed CA when parent is nil, else a leaf for
// 127.0.0.1/localhost usable by a server and a client.
func gen(t testing.TB, dir, name, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
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
	for file, b := range map[string]*pem.Block{name + ".pem": {Type: "CERTIFICATE", Bytes: der}, name + ".key": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
