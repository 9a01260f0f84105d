package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func apiURL(path string) string {
	return "https://" + strings.TrimPrefix(env.host, "tcp://") + path
}

func caPool(t *testing.T) *x509.CertPool {
	ca, err := os.ReadFile(filepath.Join(env.certs, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return pool
}

// client is an HTTPS client with the VCH's client certificate.
func client(t *testing.T) *http.Client {
	kp, err := tls.LoadX509KeyPair(filepath.Join(env.certs, "cert.pem"), filepath.Join(env.certs, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: caPool(t), Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12,
	}}}
}

func TestTLSDockerInfo(t *testing.T) {
	out := mustDocker(t, "--tlsverify", "info", "--format", "{{.Name}}")
	if strings.TrimSpace(out) != env.name {
		t.Fatalf("docker info Name = %q, want %q", out, env.name)
	}
}

func TestTLSRefusesBadClients(t *testing.T) {
	selfSigned := func() tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "intruder"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	kp, err := tls.LoadX509KeyPair(filepath.Join(env.certs, "cert.pem"), filepath.Join(env.certs, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]*tls.Config{
		"no certificate": {RootCAs: caPool(t)},
		"another CA":     {RootCAs: caPool(t), Certificates: []tls.Certificate{selfSigned()}},
		"TLS 1.1 only":   {RootCAs: caPool(t), Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
	} {
		t.Run(name, func(t *testing.T) {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
			resp, err := c.Get(apiURL("/_ping"))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("%s: got %s, want the connection refused", name, resp.Status)
			}
		})
	}
	// The same checks with the docker CLI itself: no client cert.
	r := docker(t, "--tlsverify", "--tlscacert", filepath.Join(env.certs, "ca.pem"), "--tlscert", "", "--tlskey", "", "-H", env.host, "version")
	if r.Exit == 0 && strings.Contains(r.Stdout, "Server:") && !strings.Contains(r.Stderr, "error") {
		t.Fatalf("docker without a client certificate reached the server: %s", r)
	}
}

func TestPing(t *testing.T) {
	c := client(t)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(method, apiURL("/_ping"), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Api-Version") == "" || resp.Header.Get("Ostype") != "linux" {
			t.Fatalf("%s /_ping: %s headers %v", method, resp.Status, resp.Header)
		}
		if method == http.MethodHead && len(body) != 0 {
			t.Fatalf("HEAD /_ping has a body: %q", body)
		}
		if method == http.MethodGet && string(body) != "OK" {
			t.Fatalf("GET /_ping body %q", body)
		}
	}
}

func getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := client(t).Get(apiURL(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %s: %v", path, resp.Status, err)
		}
	}
	return resp.StatusCode
}

func TestVersionPrefixes(t *testing.T) {
	for _, p := range []string{"/version", "/v1.24/version", "/v1.44/version"} {
		var v struct{ ApiVersion, MinAPIVersion, Version, Os string }
		if code := getJSON(t, p, &v); code != 200 || v.Os != "linux" || v.ApiVersion < "1.44" || v.MinAPIVersion != "1.24" {
			t.Fatalf("GET %s: %d %+v", p, code, v)
		}
	}
	var e struct{ Message string }
	if code := getJSON(t, "/v1.99/version", &e); code != 400 || !strings.Contains(e.Message, "too new") {
		t.Fatalf("GET /v1.99/version: %d %+v", code, e)
	}
}

func TestInfoValues(t *testing.T) {
	var info struct {
		Name                                                               string
		Containers, ContainersRunning, ContainersPaused, ContainersStopped int
		Images, NCPU                                                       int
		MemTotal                                                           int64
		KernelVersion, OSType                                              string
	}
	if code := getJSON(t, "/info", &info); code != 200 {
		t.Fatalf("GET /info: %d", code)
	}
	if info.Name != env.name || info.NCPU < 1 || info.MemTotal <= 0 || info.KernelVersion == "" || info.OSType != "linux" {
		t.Fatalf("info: %+v", info)
	}
	if info.Containers != info.ContainersRunning+info.ContainersPaused+info.ContainersStopped {
		t.Fatalf("container counts do not add up: %+v", info)
	}
}

func TestUnknownAndUnsupportedRoutes(t *testing.T) {
	var e struct{ Message string }
	if code := getJSON(t, "/v1.44/no/such/route", &e); code != 404 || e.Message == "" {
		t.Fatalf("unknown route: %d %+v", code, e)
	}
	resp, err := client(t).Post(apiURL("/v1.44/build"), "application/x-tar", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 501 || e.Message == "" {
		t.Fatalf("POST /build: %s %+v %v", resp.Status, e, err)
	}
}

func TestMalformedJSON(t *testing.T) {
	resp, err := client(t).Post(apiURL("/v1.44/containers/create"), "application/json", bytes.NewReader([]byte(`{"Image": "busybox",`)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Message string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 400 || e.Message == "" {
		t.Fatalf("malformed create: %s %+v", resp.Status, e)
	}
}
