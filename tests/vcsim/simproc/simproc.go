// Package simproc runs the built tests/vcsim command for a test and reads
// a VCH's endpoint VM back from it: what tests that drive a built
// vic-machine against a simulated vCenter share.
package simproc

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
)

// Bounds on waiting for the vcsim process: generous, they only turn a hang
// (on a loaded CI machine) into a failure or a kill.
const (
	readyBound = 2 * time.Minute  // from start to its address line
	stopBound  = 30 * time.Second // from closing its stdin to its exit
)

// Sim is a running vcsim process.
type Sim struct {
	Host       string // HOST:PORT of its SDK over TLS
	Thumbprint string // of its certificate
	User, Pass string
}

// Start runs the vcsim binary at bin with one user; it stops when the
// test ends.
func Start(t testing.TB, bin, user, pass string) *Sim {
	t.Helper()
	cmd := exec.Command(bin, "-user", user, "-password", pass)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Closing stdin asks vcsim to stop; one that does not within stopBound
	// is killed, so a stuck simulator cannot hold the test binary.
	t.Cleanup(func() {
		_ = stdin.Close()
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(stopBound):
			t.Logf("vcsim did not stop within %v of its stdin closing: killed", stopBound)
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	type result struct {
		line string
		err  error
	}
	ready := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		ready <- result{line, err}
	}()
	var r result
	select {
	case r = <-ready:
	case <-time.After(readyBound):
		_ = cmd.Process.Kill()
		t.Fatalf("vcsim printed no address within %v: killed", readyBound)
	}
	if r.err != nil {
		t.Fatalf("vcsim: %v", r.err)
	}
	host, tp, _ := strings.Cut(strings.TrimSpace(r.line), " ")
	return &Sim{Host: host, Thumbprint: tp, User: user, Pass: pass}
}

// Target is vic-machine's --target for the simulator's datacenter DC0.
func (s *Sim) Target() string { return s.User + "@" + s.Host + "/DC0" }

// Login logs in as the simulator's user, with its thumbprint pinned, and
// returns the client and a finder set to the datacenter DC0.
func (s *Sim) Login(t testing.TB) (*vim25.Client, *find.Finder) {
	t.Helper()
	ctx := context.Background()
	u, err := soap.ParseURL("https://" + s.Host + "/sdk")
	if err != nil {
		t.Fatal(err)
	}
	sc := soap.NewClient(u, false)
	sc.SetThumbprint(u.Host, s.Thumbprint)
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(vc).Login(ctx, url.UserPassword(s.User, s.Pass)); err != nil {
		t.Fatal(err)
	}
	finder := find.NewFinder(vc, true)
	dc, err := finder.Datacenter(ctx, "/DC0")
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)
	return vc, finder
}

// ExtraConfig returns the string extraConfig keys of the VM named vm (a
// VCH's endpoint VM: its guestinfo.vice config).
func ExtraConfig(t testing.TB, vc *vim25.Client, finder *find.Finder, vm string) map[string]string {
	t.Helper()
	ctx := context.Background()
	ref, err := finder.VirtualMachine(ctx, vm)
	if err != nil {
		t.Fatalf("the VM %s: %v", vm, err)
	}
	var m mo.VirtualMachine
	if err := property.DefaultCollector(vc).RetrieveOne(ctx, ref.Reference(), []string{"config.extraConfig"}, &m); err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	for _, o := range m.Config.ExtraConfig {
		if ov := o.GetOptionValue(); ov != nil {
			if v, ok := ov.Value.(string); ok {
				kv[ov.Key] = v
			}
		}
	}
	return kv
}
