// Package testcerts makes TLS certificates for tests: a CA, a server
// certificate for 127.0.0.1 and localhost, and a client certificate, as
// PEM files named the way DOCKER_CERT_PATH and dockerd expect them.
package testcerts

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

// Write puts ca.pem, server-cert.pem, server-key.pem (good for serving
// and for reaching another server, as a manager's), cert.pem and key.pem
// (a client's) in dir.
func Write(t testing.TB, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "swarmdeck test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	for i, who := range []struct {
		prefix string
		usage  x509.ExtKeyUsage
	}{{"server-", x509.ExtKeyUsageServerAuth}, {"", x509.ExtKeyUsageClientAuth}} {
		usages := []x509.ExtKeyUsage{who.usage}
		if who.prefix == "server-" {
			// Managers use theirs both ways: serving, and reaching the primary.
			usages = append(usages, x509.ExtKeyUsageClientAuth)
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: who.prefix + "swarmdeck"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), ExtKeyUsage: usages,
			KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		write(who.prefix+"cert.pem", "CERTIFICATE", der)
		write(who.prefix+"key.pem", "EC PRIVATE KEY", kb)
	}
}
