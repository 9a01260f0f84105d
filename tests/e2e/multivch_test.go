package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/internal/cgroup"
	"github.com/vchproject/vch/machine/vchconfig"
)

// sibling creates another VCH in v's namespace and state directory.
func (v *netVCH) sibling(t *testing.T, name string, createArgs ...string) *netVCH {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &netVCH{ns: v.ns, out: v.out, state: v.state, name: name}
	s.root = filepath.Join(s.state, name)
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() {
		if _, err := os.Stat(s.root); err == nil {
			if b, err := s.vicMachine("delete", "--name", name, "--force"); err != nil {
				t.Errorf("vic-machine delete %s: %v\n%s", name, err, b)
			}
		}
	})
	b, err := s.vicMachine(append([]string{"create", "--name", name, "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1", "--container-memory", "256M"}, createArgs...)...)
	if err != nil {
		t.Fatalf("vic-machine create %s: %v\n%s", name, err, b)
	}
	exports := parseExports(b)
	s.host, s.certs = exports["DOCKER_HOST"], exports["DOCKER_CERT_PATH"]
	return s
}

// Two VCHs on one host (one network namespace): each has its own port,
// bridge range, state and limits; neither sees the other's containers,
// and a container of one cannot reach a container of the other. A third
// VCH whose bridge range overlaps one of theirs is refused with one line
// and leaves nothing behind.
func TestTwoVCHsIsolated(t *testing.T) {
	pulled(t)
	a := newNetVCH(t, "--bridge-network-range", "172.16.0.0/16", "--memory", "3G")
	b := a.sibling(t, a.name+"-b", "--bridge-network-range", "172.17.0.0/16", "--cpu", "1core")
	img := env.busybox
	a.must(t, "pull", img)
	b.must(t, "pull", img)
	if a.host == b.host || a.root == b.root {
		t.Fatalf("VCHs share an endpoint or state: %s %s, %s %s", a.host, a.root, b.host, b.root)
	}

	a.must(t, "run", "-d", "--name", "web", img, "sh", "-c", webCmd)
	ipA := strings.TrimSpace(a.must(t, "inspect", "--format", "{{.NetworkSettings.IPAddress}}", "web"))
	if !strings.HasPrefix(ipA, "172.16.") {
		t.Fatalf("container of VCH a got %q, not from 172.16.0.0/16", ipA)
	}
	// Reachable inside its own VCH (once httpd listens).
	a.must(t, "run", "-d", "--name", "probea", img, "sleep", "1000")
	poll(t, "web from a container of the same VCH", func() bool {
		return strings.Contains(a.docker(t, "exec", "probea", "wget", "-q", "-O", "-", "http://"+ipA+"/").Stdout, "hello-from-vch")
	})
	// Not visible from the other VCH...
	if ps := b.must(t, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(ps, "web") {
		t.Errorf("VCH b lists VCH a's container:\n%s", ps)
	}
	if r := b.docker(t, "inspect", "web"); r.Exit == 0 {
		t.Errorf("VCH b inspects VCH a's container: %s", r)
	}
	// ...nor reachable from its containers.
	b.must(t, "run", "-d", "--name", "probe", img, "sleep", "1000")
	if ipB := strings.TrimSpace(b.must(t, "inspect", "--format", "{{.NetworkSettings.IPAddress}}", "probe")); !strings.HasPrefix(ipB, "172.17.") {
		t.Errorf("container of VCH b got %q, not from 172.17.0.0/16", ipB)
	}
	r := b.docker(t, "exec", "probe", "sh", "-c", "wget -T 3 -q -O - http://"+ipA+"/ && echo REACHED")
	if strings.Contains(r.Stdout, "REACHED") || strings.Contains(r.Stdout, "hello-from-vch") {
		t.Fatalf("a container of VCH b reached VCH a's web server: %s", r)
	}
	if r.Exit == 0 {
		t.Fatalf("wget from VCH b to VCH a's container succeeded: %s", r)
	}
	b.must(t, "rm", "-f", "probe")

	// Own limits, own cgroups.
	ga, err := cgroup.Load(filepath.Join(a.root, vchconfig.CgroupFile))
	if err != nil || ga == nil {
		t.Fatalf("cgroup of a: %v", err)
	}
	gb, err := cgroup.Load(filepath.Join(b.root, vchconfig.CgroupFile))
	if err != nil || gb == nil {
		t.Fatalf("cgroup of b: %v", err)
	}
	for k := range ga.Dirs {
		if ga.Dirs[k] == gb.Dirs[k] {
			t.Fatalf("VCHs share the cgroup %s", ga.Dirs[k])
		}
	}
	if ia, ib := a.must(t, "info"), b.must(t, "info"); !strings.Contains(ia, "VCH memory limit: 3072 MB") || !strings.Contains(ia, "VCH CPU limit: unlimited") ||
		!strings.Contains(ib, "VCH CPU limit: 1core") || !strings.Contains(ib, "VCH memory limit: unlimited") {
		t.Errorf("limits in docker info:\na: %s\nb: %s", ia, ib)
	}

	// An overlapping range (and a taken port) is refused. (The default
	// range, 172.16.0.0/12, is a pool each VCH takes a free /16 from.)
	c := &netVCH{ns: a.ns, out: a.out, state: a.state, name: a.name + "-c"}
	t.Cleanup(func() { // only if a create was wrongly accepted
		if _, err := os.Stat(filepath.Join(c.state, c.name, vchconfig.FileName)); err == nil {
			_, _ = c.vicMachine("delete", "--name", c.name, "--force")
		}
	})
	out, err := c.vicMachine("create", "--name", c.name, "--bind", "127.0.0.1", "--api-port", fmt.Sprint(freePortOrFail(t)), "--bridge-network-range", "172.16.128.0/17")
	if err == nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "overlaps") {
		t.Fatalf("overlapping bridge range: %v\n%s", err, out)
	}
	port := b.host[strings.LastIndexByte(b.host, ':')+1:]
	out, err = c.vicMachine("create", "--name", c.name, "--bind", "127.0.0.1", "--api-port", port, "--bridge-network-range", "172.18.0.0/16")
	if err == nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "--api-port "+port) {
		t.Fatalf("taken port: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(a.state, c.name)); err == nil {
		t.Fatalf("a refused create left %s behind", filepath.Join(a.state, c.name))
	}
	if out, _ := a.vicMachine("ls"); strings.Contains(out, c.name) || !strings.Contains(out, a.name) || !strings.Contains(out, b.name) {
		t.Errorf("ls:\n%s", out)
	}
	a.must(t, "rm", "-f", "web", "probea")
}

func freePortOrFail(t *testing.T) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
