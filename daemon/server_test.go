package daemon

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/pkg/stdcopy"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
	imagerouter "github.com/vchproject/vch/daemon/router/image"
	"github.com/vchproject/vch/errdefs"
)

// fakeContainers is a hand-written container backend: each method forwards
// to an optional func field.
type fakeContainers struct {
	create  func(containerrouter.CreateConfig) (container.CreateResponse, error)
	wait    func(string) (<-chan containerrouter.WaitResult, error)
	attach  func(string, containerrouter.AttachConfig) error
	logs    func(string, containerrouter.LogsConfig) error
	inspect func(string) (*container.InspectResponse, error)
	list    func(containerrouter.ListConfig) ([]container.Summary, error)
	start   func(string) error
}

func (f *fakeContainers) ContainerCreate(_ context.Context, c containerrouter.CreateConfig) (container.CreateResponse, error) {
	return f.create(c)
}
func (f *fakeContainers) ContainerStart(_ context.Context, n string) error { return f.start(n) }
func (f *fakeContainers) ContainerStop(context.Context, string, *int, string) error {
	return errdefs.ErrNotModified
}
func (f *fakeContainers) ContainerKill(context.Context, string, string) error { return nil }
func (f *fakeContainers) ContainerRemoveLink(context.Context, string) error   { return nil }

func (f *fakeContainers) ContainerRemove(_ context.Context, n string, _, _ bool) error {
	return errdefs.NotFound("No such container: " + n)
}
func (f *fakeContainers) ContainerRename(context.Context, string, string) error { return nil }
func (f *fakeContainers) ContainerWait(_ context.Context, n string, _ container.WaitCondition) (<-chan containerrouter.WaitResult, error) {
	return f.wait(n)
}
func (f *fakeContainers) ContainerInspect(_ context.Context, n string, _ bool) (*container.InspectResponse, error) {
	return f.inspect(n)
}
func (f *fakeContainers) Containers(_ context.Context, c containerrouter.ListConfig) ([]container.Summary, error) {
	return f.list(c)
}
func (f *fakeContainers) ContainerAttach(_ context.Context, n string, c containerrouter.AttachConfig) error {
	return f.attach(n, c)
}
func (f *fakeContainers) ContainerLogs(_ context.Context, n string, c containerrouter.LogsConfig) error {
	return f.logs(n, c)
}
func (f *fakeContainers) ContainerResize(context.Context, string, uint, uint) error { return nil }
func (f *fakeContainers) ContainerPause(context.Context, string) error              { return nil }
func (f *fakeContainers) ContainerUnpause(context.Context, string) error            { return nil }
func (f *fakeContainers) ContainerTop(context.Context, string, string) (*container.TopResponse, error) {
	return &container.TopResponse{}, nil
}
func (f *fakeContainers) ContainerStatPath(_ context.Context, name, p string) (*container.PathStat, error) {
	if p != "/etc" {
		return nil, errdefs.NotFound("Could not find the file " + p + " in container " + name)
	}
	return &container.PathStat{Name: "etc", Mode: os.ModeDir | 0o755}, nil
}
func (f *fakeContainers) ContainerArchivePath(ctx context.Context, name, p string, open func(*container.PathStat) (io.Writer, error)) error {
	st, err := f.ContainerStatPath(ctx, name, p)
	if err != nil {
		return err
	}
	w, err := open(st)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "tar")
	return err
}
func (f *fakeContainers) ContainerExtractToDir(_ context.Context, _, p string, _, _ bool, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil || !strings.HasPrefix(string(b), "tar") {
		return errdefs.InvalidParameter("bad archive")
	}
	return nil
}
func (f *fakeContainers) ContainerChanges(context.Context, string) ([]container.FilesystemChange, error) {
	return []container.FilesystemChange{{Path: "/tmp", Kind: container.ChangeModify}}, nil
}
func (f *fakeContainers) ContainerCommit(_ context.Context, name string, o containerrouter.CommitOptions) (string, error) {
	if name != "c1" {
		return "", errdefs.NotFound("No such container: " + name)
	}
	return "sha256:" + o.Repo + o.Tag, nil
}
func (f *fakeContainers) ContainerExport(_ context.Context, _ string, open func() (io.Writer, error)) error {
	w, err := open()
	if err == nil {
		_, err = io.WriteString(w, "tar")
	}
	return err
}

type fakeImages struct {
	pull    func(imagerouter.PullConfig) error
	inspect func(string) (*image.InspectResponse, error)
}

func (f *fakeImages) PullImage(_ context.Context, c imagerouter.PullConfig) error { return f.pull(c) }
func (f *fakeImages) Images(context.Context, bool, filters.Args) ([]image.Summary, error) {
	return []image.Summary{}, nil
}
func (f *fakeImages) ImageInspect(_ context.Context, n string) (*image.InspectResponse, error) {
	return f.inspect(n)
}
func (f *fakeImages) TagImage(context.Context, string, string, string) error { return nil }
func (f *fakeImages) PushImage(_ context.Context, c imagerouter.PushConfig) error {
	if c.Name != "reg:5000/team/app" || c.Tag != "v1" || c.Auth == nil || c.Auth.Username != "alice" {
		return errdefs.InvalidParameter(fmt.Sprintf("push config %+v", c))
	}
	_, err := io.WriteString(c.Output, `{"status":"The push refers to repository [reg:5000/team/app]"}`+"\r\n")
	return err
}
func (f *fakeImages) ImageDelete(context.Context, string, bool, bool) ([]image.DeleteResponse, error) {
	return nil, nil
}

type fakeSystem struct{}

func (fakeSystem) SystemInfo(context.Context) (*system.Info, error) {
	return &system.Info{Name: "vch-test", NCPU: 2}, nil
}
func (fakeSystem) SystemVersion(context.Context) (types.Version, error) {
	return types.Version{APIVersion: MaxAPIVersion, MinAPIVersion: MinAPIVersion, Os: "linux"}, nil
}

func (fakeSystem) AuthenticateToRegistry(_ context.Context, cfg *registry.AuthConfig) (string, error) {
	if cfg.Password != "right" {
		return "", errdefs.New(errdefs.ErrUnauthorized, "login attempt to http://"+cfg.ServerAddress+"/v2/ failed with status: 401 Unauthorized")
	}
	return "", nil
}

func newServer(t *testing.T, c *fakeContainers, i *fakeImages) *Server {
	t.Helper()
	if c == nil {
		c = &fakeContainers{}
	}
	if i == nil {
		i = &fakeImages{}
	}
	s, err := New(Config{Containers: c, Images: i, System: fakeSystem{}, MaxBodyBytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func message(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var m struct{ Message string }
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q is not a JSON message: %v", w.Body.String(), err)
	}
	return m.Message
}

func TestPingAndHeaders(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	w := do(t, h, http.MethodHead, "/_ping", "")
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Api-Version") != MaxAPIVersion || w.Header().Get("Ostype") != "linux" {
		t.Fatalf("HEAD /_ping: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	w = do(t, h, http.MethodGet, "/v1.40/_ping", "")
	if w.Code != 200 || w.Body.String() != "OK" {
		t.Fatalf("GET /_ping: %d %q", w.Code, w.Body.String())
	}
}

func TestVersionNegotiation(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	for path, code := range map[string]int{"/version": 200, "/v1.24/version": 200, "/v1.45/info": 200, "/v1.46/version": 400, "/v1.12/version": 400} {
		if w := do(t, h, http.MethodGet, path, ""); w.Code != code {
			t.Errorf("GET %s: %d, want %d", path, w.Code, code)
		}
	}
	w := do(t, h, http.MethodGet, "/v1.99/version", "")
	if got := message(t, w); got != "client version 1.99 is too new. Maximum supported API version is 1.45" {
		t.Fatalf("too new: %q", got)
	}
}

func TestNotFoundAndNotImplemented(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	w := do(t, h, http.MethodGet, "/v1.44/nothing/here", "")
	if w.Code != 404 || message(t, w) != "page not found" {
		t.Fatalf("unknown route: %d %q", w.Code, w.Body.String())
	}
	for _, p := range []string{"/v1.44/build", "/volumes/create", "/v1.44/containers/abc/exec", "/networks"} {
		w := do(t, h, http.MethodPost, p, "")
		if w.Code != 501 || !strings.Contains(message(t, w), "not supported") {
			t.Fatalf("POST %s: %d %q", p, w.Code, w.Body.String())
		}
	}
}

func TestCreateBadInput(t *testing.T) {
	fc := &fakeContainers{create: func(c containerrouter.CreateConfig) (container.CreateResponse, error) {
		if c.Config.Image != "busybox" || c.Name != "web" || c.HostConfig == nil {
			return container.CreateResponse{}, errors.New("config lost")
		}
		return container.CreateResponse{ID: "abc"}, nil
	}}
	h := newServer(t, fc, nil).Handler()
	w := do(t, h, http.MethodPost, "/v1.44/containers/create?name=web", `{"Image":"busybox","HostConfig":{"AutoRemove":true}}`)
	if w.Code != 201 || !strings.Contains(w.Body.String(), `"Id":"abc"`) || !strings.Contains(w.Body.String(), `"Warnings":[]`) {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodPost, "/v1.44/containers/create", `{"Image":`)
	if w.Code != 400 || !strings.HasPrefix(message(t, w), "invalid JSON") {
		t.Fatalf("malformed JSON: %d %s", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodPost, "/v1.44/containers/create", `{"Image":"`+strings.Repeat("x", 1<<17)+`"}`)
	if w.Code != 400 || !strings.Contains(message(t, w), "too large") {
		t.Fatalf("oversized body: %d %s", w.Code, w.Body.String())
	}
}

func TestErrorClassesMapToStatus(t *testing.T) {
	fc := &fakeContainers{inspect: func(n string) (*container.InspectResponse, error) {
		return nil, errdefs.NotFound("No such container: " + n)
	}, start: func(string) error { return errdefs.ErrNotModified },
		list: func(containerrouter.ListConfig) ([]container.Summary, error) { return nil, nil }}
	h := newServer(t, fc, nil).Handler()
	w := do(t, h, http.MethodGet, "/v1.44/containers/x/json", "")
	if w.Code != 404 || message(t, w) != "No such container: x" {
		t.Fatalf("inspect unknown: %d %s", w.Code, w.Body.String())
	}
	if w := do(t, h, http.MethodPost, "/v1.44/containers/x/start", ""); w.Code != 304 || w.Body.Len() != 0 {
		t.Fatalf("start of a started container: %d %q", w.Code, w.Body.String())
	}
	if w := do(t, h, http.MethodGet, "/containers/json?filters=%7Bbad", ""); w.Code != 400 {
		t.Fatalf("bad filters: %d", w.Code)
	}
	if w := do(t, h, http.MethodGet, "/containers/json", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Fatalf("empty list: %d %q", w.Code, w.Body.String())
	}
	if w := do(t, h, http.MethodGet, "/containers/x/logs", ""); w.Code != 400 || !strings.Contains(message(t, w), "at least one stream") {
		t.Fatalf("logs without streams: %d %s", w.Code, w.Body.String())
	}
}

// The wait response's headers arrive before the result: the docker CLI
// starts the container only after it has them.
func TestWaitFlushesHeadersFirst(t *testing.T) {
	result := make(chan containerrouter.WaitResult, 1)
	fc := &fakeContainers{wait: func(n string) (<-chan containerrouter.WaitResult, error) {
		if n != "c1" {
			return nil, errdefs.NotFound("No such container: " + n)
		}
		return result, nil
	}}
	srv := httptest.NewServer(newServer(t, fc, nil).Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1.44/containers/c1/wait?condition=next-exit", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("wait: %s", resp.Status)
	}
	result <- containerrouter.WaitResult{StatusCode: 3}
	var wr container.WaitResponse
	if err := json.NewDecoder(resp.Body).Decode(&wr); err != nil || wr.StatusCode != 3 {
		t.Fatalf("wait result %+v %v", wr, err)
	}
	r2, err := http.Post(srv.URL+"/containers/nope/wait", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 404 {
		t.Fatalf("wait on unknown: %s", r2.Status)
	}
	r3, err := http.Post(srv.URL+"/containers/c1/wait?condition=bogus", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r3.Body.Close()
	if r3.StatusCode != 400 {
		t.Fatalf("bad condition: %s", r3.Status)
	}
}

// attach hijacks the connection: 101, multiplexed frames, and the client's
// half-close ends stdin while output keeps flowing.
func TestAttachHijackAndHalfClose(t *testing.T) {
	fc := &fakeContainers{attach: func(n string, c containerrouter.AttachConfig) error {
		in, out, err := c.Streams(false)
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(in) // until the client half-closes
		stdcopy.NewStdWriter(out, stdcopy.Stdout).Write([]byte("echo:" + string(got)))
		stdcopy.NewStdWriter(out, stdcopy.Stderr).Write([]byte("done"))
		return nil
	}}
	srv := httptest.NewServer(newServer(t, fc, nil).Handler())
	defer srv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /v1.44/containers/c1/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
		t.Fatalf("attach answer: %s %v", resp.Status, resp.Header)
	}
	io.WriteString(conn, "hi")
	conn.(*net.TCPConn).CloseWrite()
	var stdout, stderr strings.Builder
	if _, err := stdcopy.StdCopy(&stdout, &stderr, br); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "echo:hi" || stderr.String() != "done" {
		t.Fatalf("streams: %q %q", stdout.String(), stderr.String())
	}
}

// A pull that fails after the stream began ends with a JSON error line.
func TestPullStreamError(t *testing.T) {
	fi := &fakeImages{pull: func(c imagerouter.PullConfig) error {
		if c.Image != "127.0.0.1:5000/busybox" || c.Tag != "latest" || c.Auth == nil || c.Auth.Username != "u" {
			return errdefs.InvalidParameter("request lost: " + c.Image)
		}
		io.WriteString(c.Output, `{"status":"Pulling from busybox","id":"latest"}`+"\n")
		return errors.New("connection reset")
	}, inspect: func(n string) (*image.InspectResponse, error) { return &image.InspectResponse{ID: n}, nil }}
	h := newServer(t, nil, fi).Handler()
	req := httptest.NewRequest(http.MethodPost, "/v1.44/images/create?fromImage=127.0.0.1:5000/busybox&tag=latest", nil)
	req.Header.Set("X-Registry-Auth", "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAifQ==")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	if w.Code != 200 || len(lines) != 2 || !strings.Contains(lines[1], `"error":"connection reset"`) {
		t.Fatalf("pull stream: %d %q", w.Code, w.Body.String())
	}
	// Image names carry registry ports and slashes.
	w = do(t, h, http.MethodGet, "/v1.44/images/127.0.0.1:5000/busybox:latest/json", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"Id":"127.0.0.1:5000/busybox:latest"`) {
		t.Fatalf("inspect by registry name: %d %s", w.Code, w.Body.String())
	}
	// ContainerConfig at every version: compose v1 negotiates 1.45 and reads it.
	w = do(t, h, http.MethodGet, "/v1.39/images/127.0.0.1:5000/busybox:latest/json", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ContainerConfig":{`) {
		t.Fatalf("inspect at 1.39: %d %s", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodGet, "/v1.45/images/127.0.0.1:5000/busybox:latest/json", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ContainerConfig":{`) {
		t.Fatalf("inspect at 1.45: %d %s", w.Code, w.Body.String())
	}
}

// TLS: only clients with a certificate from the VCH's CA, over TLS >= 1.2.
func TestMutualTLS(t *testing.T) {
	ca, caKey := newCA(t)
	serverCert, serverKey := leaf(t, ca, caKey, x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := leaf(t, ca, caKey, x509.ExtKeyUsageClientAuth)
	otherCA, otherKey := newCA(t)
	strangerCert, strangerKey := leaf(t, otherCA, otherKey, x509.ExtKeyUsageClientAuth)

	cfg, err := ServerTLSConfig(pemCert(ca), serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, nil, nil)
	s.cfg.TLS = cfg
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.ServeListener(ctx, l)

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	get := func(c *tls.Config) error {
		c.RootCAs = pool
		cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: c}}
		resp, err := cl.Get("https://" + l.Addr().String() + "/_ping")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	good, _ := tls.X509KeyPair(clientCert, clientKey)
	stranger, _ := tls.X509KeyPair(strangerCert, strangerKey)
	if err := get(&tls.Config{Certificates: []tls.Certificate{good}}); err != nil {
		t.Fatalf("valid client refused: %v", err)
	}
	for name, c := range map[string]*tls.Config{
		"no certificate": {},
		"other CA":       {Certificates: []tls.Certificate{stranger}},
		"TLS 1.1":        {Certificates: []tls.Certificate{good}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
	} {
		if err := get(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) ([]byte, []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
		KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func TestAuth(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	w := do(t, h, http.MethodPost, "/v1.45/auth", `{"username":"alice","password":"right","serveraddress":"reg:5000"}`)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"IdentityToken":"","Status":"Login Succeeded"}` {
		t.Fatalf("login: %d %q", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodPost, "/auth", `{"username":"alice","password":"wrong","serveraddress":"reg:5000"}`)
	if w.Code != 401 || message(t, w) != "login attempt to http://reg:5000/v2/ failed with status: 401 Unauthorized" {
		t.Fatalf("wrong password: %d %q", w.Code, w.Body.String())
	}
	if w = do(t, h, http.MethodPost, "/auth", `{"username":`); w.Code != 400 {
		t.Fatalf("malformed JSON: %d %q", w.Code, w.Body.String())
	}
}

func TestPushRoute(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	req := httptest.NewRequest(http.MethodPost, "/v1.45/images/reg:5000/team/app/push?tag=v1", nil)
	req.Header.Set("X-Registry-Auth", base64.URLEncoding.EncodeToString([]byte(`{"username":"alice","password":"s3cret"}`)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "The push refers to repository [reg:5000/team/app]") {
		t.Fatalf("push: %d %q", w.Code, w.Body.String())
	}
	req = httptest.NewRequest(http.MethodPost, "/images/reg:5000/team/app/push?tag=v1", nil)
	req.Header.Set("X-Registry-Auth", "!!!")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 400 {
		t.Fatalf("bad auth header: %d %q", w.Code, w.Body.String())
	}
}

// TestArchiveRoutes: docker cp's HEAD/GET/PUT and diff's route, with the
// path stat header and docker's statuses.
func TestArchiveRoutes(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	w := do(t, h, http.MethodHead, "/v1.44/containers/c/archive?path=/etc", "")
	raw, err := base64.StdEncoding.DecodeString(w.Header().Get("X-Docker-Container-Path-Stat"))
	var st container.PathStat
	if w.Code != 200 || err != nil || json.Unmarshal(raw, &st) != nil || st.Name != "etc" || !st.Mode.IsDir() {
		t.Fatalf("HEAD: %d %q", w.Code, raw)
	}
	if w := do(t, h, http.MethodHead, "/v1.44/containers/c/archive?path=/x", ""); w.Code != 404 {
		t.Fatalf("HEAD of a missing path: %d", w.Code)
	}
	if w := do(t, h, http.MethodGet, "/v1.44/containers/c/archive", ""); w.Code != 400 {
		t.Fatalf("GET without a path: %d", w.Code)
	}
	w = do(t, h, http.MethodGet, "/v1.44/containers/c/archive?path=/etc", "")
	if w.Code != 200 || w.Body.String() != "tar" || w.Header().Get("Content-Type") != "application/x-tar" || w.Header().Get("X-Docker-Container-Path-Stat") == "" {
		t.Fatalf("GET: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	if w := do(t, h, http.MethodGet, "/v1.44/containers/c/archive?path=/x", ""); w.Code != 404 || message(t, w) != "Could not find the file /x in container c" {
		t.Fatalf("GET of a missing path: %d %q", w.Code, w.Body.String())
	}
	if w := do(t, h, http.MethodPut, "/v1.44/containers/c/archive?path=/etc", "tar"); w.Code != 200 {
		t.Fatalf("PUT: %d %q", w.Code, w.Body.String())
	}
	// A tar is a stream: the JSON body cap (64 KiB in this server) does not apply.
	if w := do(t, h, http.MethodPut, "/v1.44/containers/c/archive?path=/etc", "tar"+strings.Repeat("x", 1<<18)); w.Code != 200 {
		t.Fatalf("PUT of 256 KiB: %d %q", w.Code, w.Body.String())
	}
	if w := do(t, h, http.MethodPut, "/v1.44/containers/c/archive?path=/etc", "junk"); w.Code != 400 {
		t.Fatalf("PUT of a bad archive: %d", w.Code)
	}
	w = do(t, h, http.MethodGet, "/v1.44/containers/c/changes", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"Path":"/tmp"`) {
		t.Fatalf("changes: %d %q", w.Code, w.Body.String())
	}
}

func TestCommitAndExportRoutes(t *testing.T) {
	h := newServer(t, &fakeContainers{}, nil).Handler()
	w := do(t, h, http.MethodPost, "/v1.41/commit?container=c1&repo=img&tag=v1", "null")
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), `"Id":"sha256:imgv1"`) {
		t.Fatalf("commit: %d %q", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodPost, "/v1.41/commit?container=nope", "")
	if w.Code != http.StatusNotFound || message(t, w) != "No such container: nope" {
		t.Fatalf("commit of an unknown container: %d %q", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodPost, "/v1.41/commit?container=c1", "{bad")
	if w.Code != http.StatusBadRequest {
		t.Fatalf("commit with a bad body: %d %q", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodGet, "/v1.41/containers/c1/export", "")
	if w.Code != http.StatusOK || w.Body.String() != "tar" || w.Header().Get("Content-Type") != "application/x-tar" {
		t.Fatalf("export: %d %q", w.Code, w.Body.String())
	}
}
