// Package backed tests the vsphere compute provider with container VMs
// that the simulator backs with docker containers (RUN.container) on a
// dockerd of the test's own, in a network namespace of its own (its own
// test binary: the namespace, DOCKER_HOST and the simulator's container
// watcher are process-wide).
package backed

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/tests/fixture"
)

// TestMain: the tests run in a network namespace of their own (see the
// package comment) with a temporary directory of their own, removed
// afterwards (the simulator's govcsim-* directories go with it).
func TestMain(m *testing.M) {
	os.Exit(vsimtest.Main(func() int { return fixture.RunInNetns("vchsimdk", m.Run) }))
}

// TestGuestinfoReachesTheContainer: what the provider writes into a
// container VM's guestinfo (the container's ID, spec and NICs, in the
// keys' base64url form that survives the simulator's unquoted shell
// join) reaches the process of the docker-backed VM as VMX_GUESTINFO_*
// variables, which is where the tether's vSphere config source is to
// read it; power on starts the backing container, kill (power off) stops
// it and rm (destroy) removes it.
func TestGuestinfoReachesTheContainer(t *testing.T) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is needed for the backing image: %v", err)
	}
	d := vsimtest.StartDockerd(t)
	d.Import(t, "vch-backing:latest", map[string]string{busybox: "/bin/busybox"}, map[string]string{"/bin/sh": "busybox", "/bin/env": "busybox", "/bin/sleep": "busybox"})
	sim := vsimtest.External(t)
	ctx := context.Background()
	p, err := vscompute.New(vscompute.Config{
		Session: sim.Session(t), VCH: "backed", Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t),
		// A shell that ends on SIGTERM, so power off (docker stop) is quick.
		Backing: []string{"vch-backing:latest", "sh", "-c", `'trap "exit 0" TERM; env; sleep 600 & wait'`},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("ab", 32)
	spec := compute.Spec{ID: id, Name: "backed", Image: "sha256:00", Process: compute.Process{Args: []string{"sh", "-c", "echo 'it''s $HOME' && exit 3"}, Env: []string{"A=b c"}}}
	if err := p.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	t.Logf("power on of a docker-backed VM: %s", time.Since(t0))
	name := func() string {
		out, err := d.Docker("ps", "-a", "--format", "{{.Names}}")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ctr := name()
	if !strings.HasPrefix(ctr, "vcsim-backed-") {
		t.Fatalf("backing containers %q", ctr)
	}
	env := map[string]string{}
	deadline := time.Now().Add(2 * time.Minute)
	for env["VMX_GUESTINFO_VCH_SPEC"] == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the container's environment never showed up: %v", env)
		}
		out, err := d.Docker("logs", ctr)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				env[k] = v
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if env["VMX_GUESTINFO_VCH_ID"] != id || env["VMX_GUESTINFO_VCH_VCH"] != "backed" {
		t.Fatalf("guestinfo in the container: %v", env)
	}
	raw, err := base64.RawURLEncoding.DecodeString(env["VMX_GUESTINFO_VCH_SPEC"])
	if err != nil {
		t.Fatal(err)
	}
	var got compute.Spec
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != id || strings.Join(got.Process.Args, "|") != strings.Join(spec.Process.Args, "|") || got.Process.Env[0] != "A=b c" {
		t.Fatalf("spec through guestinfo %+v", got)
	}
	if _, ok := env["VMX_GUESTINFO_VCH_STATUS"]; !ok {
		t.Errorf("no status key in the container's guestinfo: %v", env)
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Docker("inspect", "--format", "{{.State.Running}}", ctr); err != nil || out != "false" {
		t.Fatalf("backing container after kill: running=%s %v", out, err)
	}
	// The simulator also syncs the power state from the container
	// (asynchronously, from docker events and inspects): wait until the
	// VM is off for good.
	for deadline := time.Now().Add(2 * time.Minute); ; {
		c, err := p.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status.State == compute.StateExited {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state after kill %+v", c.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := name(); n != "" {
		t.Fatalf("backing containers after rm %q", n)
	}
}
