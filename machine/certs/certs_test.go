package certs

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateMakesAChainDockerAccepts(t *testing.T) {
	dir := t.TempDir()
	certDir := filepath.Join(dir, "certs")
	if err := Generate(certDir, filepath.Join(dir, "ca-key.pem"), Options{CommonName: "vch1", DNSNames: []string{"vch1.example"}}); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(certDir, CA))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem does not parse")
	}
	for _, pair := range [][2]string{{ServerCert, ServerKey}, {ClientCert, ClientKey}} {
		kp, err := tls.LoadX509KeyPair(filepath.Join(certDir, pair[0]), filepath.Join(certDir, pair[1]))
		if err != nil {
			t.Fatalf("%s: %v", pair[0], err)
		}
		leaf, err := x509.ParseCertificate(kp.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		usage := x509.ExtKeyUsageServerAuth
		if pair[0] == ClientCert {
			usage = x509.ExtKeyUsageClientAuth
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Fatalf("%s does not chain to the CA: %v", pair[0], err)
		}
		st, err := os.Stat(filepath.Join(certDir, pair[1]))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v: %v", pair[1], st.Mode(), err)
		}
	}
	kp, _ := tls.LoadX509KeyPair(filepath.Join(certDir, ServerCert), filepath.Join(certDir, ServerKey))
	leaf, _ := x509.ParseCertificate(kp.Certificate[0])
	for _, h := range []string{"localhost", "127.0.0.1", "vch1.example"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("server cert does not cover %s: %v", h, err)
		}
	}
	if _, err := os.Stat(filepath.Join(certDir, "ca-key.pem")); err == nil {
		t.Fatal("CA key leaked into the client cert dir")
	}
}

// IssueServer signs a server certificate for new names with the CA of
// Generate; a key that is not the CA's is refused.
func TestIssueServerWithTheCA(t *testing.T) {
	dir := t.TempDir()
	certDir := filepath.Join(dir, "certs")
	if err := Generate(certDir, filepath.Join(dir, "ca-key.pem"), Options{CommonName: "vch1"}); err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(certDir, CA))
	caKey, _ := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	certPEM, keyPEM, err := IssueServer(caPEM, caKey, Options{CommonName: "vch1", DNSNames: []string{"vch1", "new.example"}, IPs: []net.IP{net.ParseIP("10.1.2.3")}})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(kp.Certificate[0])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	for _, h := range []string{"new.example", "10.1.2.3", "vch1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: h}); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	otherKey, _ := os.ReadFile(filepath.Join(certDir, ServerKey))
	if _, _, err := IssueServer(caPEM, otherKey, Options{CommonName: "vch1"}); err == nil || !strings.Contains(err.Error(), "not the key of CA") {
		t.Errorf("a key that is not the CA's: %v", err)
	}
}
