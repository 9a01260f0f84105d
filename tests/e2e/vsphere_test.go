package e2e

import (
	"context"
	"encoding/json"
	"github.com/vchproject/vch/tests/vcsim/simproc"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/internal/cgroup"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/certs"
	"github.com/vchproject/vch/machine/vchconfig"
)

// TestVSphereVCHFromGuestinfo: the built vic-machine creates a VCH on a
// simulated vCenter (tests/vcsim, TLS, thumbprint, password); the built
// vchd serves it with --vice-env from the endpoint VM's guestinfo (as
// the VMX_GUESTINFO_* variables a docker-backed simulator VM gets) and
// the appliance's own settings; the docker CLI over TLS then works on
// the vsphere providers: networks are port groups, volumes are VMDKs,
// containers are VMs in the VCH's pool.
func TestVSphereVCHFromGuestinfo(t *testing.T) {
	const user, pass = "administrator@vsphere.local", "E2e-s3cret"
	dir := t.TempDir()
	sim := filepath.Join(dir, "vcsim")
	if out, err := exec.Command("go", "build", "-o", sim, filepath.Join(env.repo, "tests", "vcsim")).CombinedOutput(); err != nil {
		t.Fatalf("build tests/vcsim: %v\n%s", err, out)
	}
	vs := simproc.Start(t, sim, user, pass)
	host, tp := vs.Host, vs.Thumbprint

	name := "vse2e"
	create := exec.Command(filepath.Join(env.repo, "bin", "vic-machine"), "create", "--name", name, "--compute-resource", "DC0_C0",
		"--image-store", "LocalDS_0", "--volume-store", "LocalDS_0/"+name+"-vols:default", "--bridge-network", "DC0_DVPG0",
		"--container-network", "VM Network:public", "--container-network-gateway", "VM Network:10.9.0.1/24",
		"--container-network-ip-range", "VM Network:10.9.0.100-10.9.0.200", "--container-name-convention", name+"-{name}",
		"--target", user+"@"+host+"/DC0", "--thumbprint", tp)
	create.Env = append(os.Environ(), "VIC_MACHINE_PASSWORD="+pass)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}

	ctx := context.Background()
	vc, finder := vs.Login(t)
	kv := simproc.ExtraConfig(t, vc, finder, name)

	// The appliance: root, API address, TLS files.
	certDir := filepath.Join(dir, "certs")
	if err := certs.Generate(certDir, filepath.Join(dir, "ca-key.pem"), certs.Options{CommonName: name}); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	a := vchconfig.Appliance{Root: filepath.Join(dir, "root"), APIAddr: addr, User: user,
		CACert: filepath.Join(certDir, certs.CA), ServerCert: filepath.Join(certDir, certs.ServerCert), ServerKey: filepath.Join(certDir, certs.ServerKey)}
	ab, _ := json.Marshal(a)
	appliance := filepath.Join(dir, "appliance.json")
	if err := os.WriteFile(appliance, ab, 0o600); err != nil {
		t.Fatal(err)
	}
	vchd := exec.Command(filepath.Join(env.repo, "bin", "vchd"), "--vice-env", "--config", appliance)
	vchd.Env = append(append(os.Environ(), "VCH_VSPHERE_PASSWORD="+pass, "VMX_GUESTINFO=true"), vice.ToEnv(kv)...)
	logf, err := os.Create(filepath.Join(dir, "vchd.log"))
	if err != nil {
		t.Fatal(err)
	}
	vchd.Stdout, vchd.Stderr = logf, logf
	if err := vchd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- vchd.Wait() }()
	t.Cleanup(func() {
		_ = vchd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = vchd.Process.Kill()
			<-exited
		}
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("vchd log:\n%s", b)
		}
		// vchd made the VCH's cgroup on this host; vic-machine delete
		// removes it for a local VCH, here the test does.
		if g, err := cgroup.Load(filepath.Join(a.Root, vchconfig.CgroupFile)); err != nil {
			t.Errorf("the VCH's cgroup record: %v", err)
		} else if g != nil {
			if err := g.Remove(); err != nil {
				t.Errorf("remove the VCH's cgroup: %v", err)
			}
		}
	})
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DOCKER_HOST=tcp://" + addr, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certDir, "DOCKER_CONFIG=" + filepath.Join(dir, "cli")}
	must := func(args ...string) string {
		t.Helper()
		r, err := runDocker(nil, environ, "", args...)
		if err != nil || r.Exit != 0 {
			t.Fatalf("docker %s: %v %s", strings.Join(args, " "), err, r)
		}
		return strings.TrimSpace(r.Stdout)
	}
	for deadline := time.Now().Add(3 * time.Minute); ; {
		if r, err := runDocker(nil, environ, "", "version"); err == nil && r.Exit == 0 {
			break
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("vchd ended: %v\n%s", err, b)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("vchd's API never answered over TLS")
		}
	}
	if got := must("info", "--format", "{{.DefaultRuntime}}"); got != "vsphere" {
		t.Errorf("runtime %q", got)
	}
	if got := must("network", "ls", "--format", "{{.Name}} {{.Driver}}"); got != "bridge bridge\npublic external" {
		t.Errorf("network ls %q", got)
	}
	must("volume", "create", "--opt", "Capacity=16MB", "data")
	if got := must("volume", "ls", "--format", "{{.Name}}"); got != "data" {
		t.Errorf("volume ls %q", got)
	}
	must("pull", env.busybox)
	// The image store is the vsphere one: the layer is a VMDK in the
	// VCH's image folder on the image datastore.
	chain := strings.TrimPrefix(must("image", "inspect", "--format", "{{index .RootFS.Layers 0}}", env.busybox), "sha256:")
	imageDS, err := finder.Datastore(ctx, kv["guestinfo.vice.storage.image.datastore"])
	if err != nil {
		t.Fatal(err)
	}
	layer := kv["guestinfo.vice.storage.image.path"] + "/" + chain + "/" + chain + ".vmdk"
	if _, err := imageDS.Stat(ctx, layer); err != nil {
		t.Fatalf("the image's layer disk %s: %v", layer, err)
	}
	must("create", "--name", "web", "--network", "public", "-v", "data:/data", env.busybox, "sleep", "600")
	if _, err := finder.VirtualMachine(ctx, name+"-web"); err != nil {
		t.Fatalf("the container's VM: %v", err)
	}
	must("start", "web")
	if got := must("inspect", "--format", "{{.State.Status}} {{.NetworkSettings.Networks.public.IPAddress}}", "web"); got != "running 10.9.0.100" {
		t.Errorf("inspect %q", got)
	}
	must("rm", "-f", "web")
	if _, err := finder.VirtualMachine(ctx, name+"-web"); err == nil {
		t.Fatal("the container's VM outlived docker rm -f")
	}
	must("rmi", env.busybox)
	if _, err := imageDS.Stat(ctx, layer); err == nil {
		t.Fatalf("the layer disk %s outlived docker rmi", layer)
	}
}
