// Package certs makes the TLS material of a VCH: a CA, a server certificate
// for the Docker API endpoint and a client certificate for docker's
// --tlsverify, all ECDSA P-256, written in the layout docker expects for
// DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) plus server-cert.pem and
// server-key.pem. The CA key is written outside the client cert dir.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names inside the cert dir.
const (
	CA         = "ca.pem"
	ClientCert = "cert.pem"
	ClientKey  = "key.pem"
	ServerCert = "server-cert.pem"
	ServerKey  = "server-key.pem"
)

// Options for Generate.
type Options struct {
	CommonName string   // VCH name, used in subjects
	DNSNames   []string // server SANs besides localhost
	IPs        []net.IP // server SANs besides loopback
	Validity   time.Duration
}

// Generate writes a new CA, server and client certificate into certDir and
// the CA's key to caKeyPath. Keys are written 0600.
func Generate(certDir, caKeyPath string, o Options) error {
	if o.Validity == 0 {
		o.Validity = 2 * 365 * 24 * time.Hour
	}
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return fmt.Errorf("cert dir: %w", err)
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: o.CommonName + " CA", Organization: []string{"vch"}},
		NotBefore:             now,
		NotAfter:              now.Add(o.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(certDir, CA), "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	if err := writeKey(caKeyPath, caKey); err != nil {
		return err
	}

	if err := issue(certDir, ServerCert, ServerKey, serverTemplate(o, now), caCert, caKey); err != nil {
		return err
	}
	client := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "client", Organization: []string{"vch"}},
		NotBefore:    now,
		NotAfter:     now.Add(o.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return issue(certDir, ClientCert, ClientKey, client, caCert, caKey)
}

// serverTemplate is the server certificate of o, valid from now.
func serverTemplate(o Options, now time.Time) *x509.Certificate {
	dns := append([]string{"localhost"}, o.DNSNames...)
	ips := append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, o.IPs...)
	return &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: o.CommonName, Organization: []string{"vch"}},
		NotBefore:    now,
		NotAfter:     now.Add(o.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
}

// IssueServer makes a new server certificate for o signed by the CA of
// Generate (caPEM, the PEM of certDir's ca.pem, and the PEM of its key)
// and returns the certificate and its key, PEM; it writes nothing.
func IssueServer(caPEM, caKeyPEM []byte, o Options) (certPEM, keyPEM []byte, err error) {
	if o.Validity == 0 {
		o.Validity = 2 * 365 * 24 * time.Hour
	}
	b, _ := pem.Decode(caPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("CA certificate: no PEM certificate")
	}
	caCert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("CA certificate: %w", err)
	}
	k, _ := pem.Decode(caKeyPEM)
	if k == nil {
		return nil, nil, fmt.Errorf("CA key: no PEM key")
	}
	caKey, err := x509.ParseECPrivateKey(k.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("CA key: %w", err)
	}
	if !caKey.PublicKey.Equal(caCert.PublicKey) {
		return nil, nil, fmt.Errorf("the CA key is not the key of CA %q", caCert.Subject.CommonName)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, serverTemplate(o, time.Now().Add(-time.Hour)), caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("server certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

func issue(dir, certName, keyName string, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certificate %s: %w", certName, err)
	}
	if err := writePEM(filepath.Join(dir, certName), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	return writeKey(filepath.Join(dir, keyName), key)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}

// HostSANs returns this host's name and non-loopback addresses, for the
// server certificate.
func HostSANs() ([]string, []net.IP) {
	var names []string
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	var ips []net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
			ips = append(ips, n.IP)
		}
	}
	return names, ips
}
