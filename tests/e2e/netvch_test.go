package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/tests/fixture"
)

// netVCH is a VCH whose vchd, bridge, VMs and docker CLI all live in a
// network namespace of the test's own, with a second namespace ("out")
// behind a veth pair standing for the outside world:
//
//	vch namespace: lo, vh0 10.201.0.1/24, the VCH's bridge 172.16.0.0/16
//	out namespace: vo0 10.201.0.2/24 (no route to 172.16/16)
//
// No packet to a 172.x or 10.x address leaves these namespaces.
type netVCH struct {
	ns, out *fixture.Netns
	state   string
	name    string
	host    string
	certs   string
	root    string
}

const (
	netHostAddr = "10.201.0.1"
	netOutAddr  = "10.201.0.2"
)

// newNetVCH creates the VCH; createArgs are more vic-machine create
// options (given last, they win over the defaults here).
func newNetVCH(t testing.TB, createArgs ...string) *netVCH {
	t.Helper()
	return newNetVCHWith(t, createArgs...)
}

// newNetVCHWith is newNetVCH with more vic-machine create options.
func newNetVCHWith(t testing.TB, createArgs ...string) *netVCH {
	t.Helper()
	ns, err := fixture.NewNetns("vchnet")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	out, err := fixture.NewNetns("vchnet-out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	for _, args := range [][]string{
		{"-n", ns.Name, "link", "add", "vh0", "type", "veth", "peer", "name", "vo0", "netns", out.Name},
		{"-n", ns.Name, "addr", "add", netHostAddr + "/24", "dev", "vh0"},
		{"-n", ns.Name, "link", "set", "vh0", "up"},
		{"-n", out.Name, "addr", "add", netOutAddr + "/24", "dev", "vo0"},
		{"-n", out.Name, "link", "set", "vo0", "up"},
	} {
		if b, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, b)
		}
	}
	// The image registry runs on the host's loopback; forward the same
	// address inside the namespace to it.
	l, err := ns.Listen("tcp4", env.registry.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go forward(l, env.registry.Addr)

	v := &netVCH{ns: ns, out: out, state: filepath.Join(t.TempDir(), "state"), name: "vchnet-" + ns.Name[len("vchnet-"):]}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	v.root = filepath.Join(v.state, v.name)
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() {
		if _, err := os.Stat(v.root); err == nil {
			if b, err := v.vicMachine("delete", "--name", v.name, "--force"); err != nil {
				t.Errorf("vic-machine delete: %v\n%s", err, b)
			}
		}
	})
	b, err := v.vicMachine(append([]string{"create", "--name", v.name, "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1", "--container-memory", "256M"}, createArgs...)...)
	if err != nil {
		t.Fatalf("vic-machine create in %s: %v\n%s", ns.Name, err, b)
	}
	exports := parseExports(b)
	v.host, v.certs = exports["DOCKER_HOST"], exports["DOCKER_CERT_PATH"]
	return v
}

// forward copies connections accepted on l to addr (outside the namespace).
func forward(l net.Listener, addr string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp4", addr)
			if err != nil {
				return
			}
			defer u.Close()
			go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
			io.Copy(c, u)
		}()
	}
}

func (v *netVCH) vicMachine(args ...string) (string, error) {
	args = append(args, "--state-dir", v.state)
	b, err := v.ns.Command(filepath.Join(env.repo, "bin", "vic-machine"), args...).CombinedOutput()
	return string(b), err
}

// nsenter is the argv prefix that runs a command in v's namespace.
func (v *netVCH) nsenter() []string { return []string{"nsenter", "--net=" + v.ns.Path, "--"} }

// environ is the docker CLI's environment for v.
func (v *netVCH) environ() []string { return vchEnviron(v.host, v.certs) }

// docker runs the docker CLI inside the namespace.
func (v *netVCH) docker(t testing.TB, args ...string) result {
	t.Helper()
	r, err := runDocker(v.nsenter(), v.environ(), "", args...)
	if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return r
}

func (v *netVCH) must(t testing.TB, args ...string) string {
	t.Helper()
	r := v.docker(t, args...)
	if r.Exit != 0 {
		t.Fatalf("docker %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// fetch GETs url from inside ns.
func fetch(ns *fixture.Netns, url string) (string, error) {
	resp, err := ns.HTTPClient(10 * time.Second).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// waitFetch polls url until it answers with want.
func waitFetch(t *testing.T, ns *fixture.Netns, url, want string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, err := fetch(ns, url)
		if err == nil && strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s in %s: %q, %v", url, ns.Name, got, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serveRemoteAddr serves, inside ns, an HTTP page that is the client's address.
func serveRemoteAddr(t *testing.T, ns *fixture.Netns, addr string) {
	t.Helper()
	l, err := ns.Listen("tcp", addr) // IPv4 or IPv6, as addr is
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "from=%s\n", host)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}
