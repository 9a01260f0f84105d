package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25"

	"github.com/vchproject/vch/internal/cgroup"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/certs"
	"github.com/vchproject/vch/machine/vchconfig"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/tests/vcsim/simproc"
)

// vsphereVCH is a VCH on a simulated vCenter, made by the built
// vic-machine and served by the built vchd (see startVSphereVCH).
type vsphereVCH struct {
	name    string
	vc      *vim25.Client
	finder  *find.Finder
	kv      map[string]string // the endpoint VM's guestinfo
	environ []string          // the docker CLI's environment
}

// vsphereOptions are what a test adds to the appliance.
type vsphereOptions struct {
	name       string
	serial     string   // the serial concentrator's listen address
	simBacking []string // docker-backed container VMs (RUN.container)
}

// startVSphereVCH runs tests/vcsim (TLS, thumbprint, password), has the
// built vic-machine create the VCH on it, and serves it with the built
// vchd from the endpoint VM's guestinfo (as the VMX_GUESTINFO_*
// variables a docker-backed simulator VM gets) and the appliance's own
// settings; it returns once the docker CLI gets an answer over TLS.
// Everything stops when t ends.
func startVSphereVCH(t *testing.T, o vsphereOptions) *vsphereVCH {
	t.Helper()
	const user, pass = "administrator@vsphere.local", "E2e-s3cret"
	dir := t.TempDir()
	sim := filepath.Join(dir, "vcsim")
	if out, err := exec.Command("go", "build", "-o", sim, filepath.Join(env.repo, "tests", "vcsim")).CombinedOutput(); err != nil {
		t.Fatalf("build tests/vcsim: %v\n%s", err, out)
	}
	vs := simproc.Start(t, sim, user, pass)
	host, tp := vs.Host, vs.Thumbprint

	name := o.name
	create := exec.Command(filepath.Join(env.repo, "bin", "vic-machine"), "create", "--name", name, "--compute-resource", "DC0_C0",
		"--image-store", "LocalDS_0", "--volume-store", "LocalDS_0/"+name+"-vols:default", "--bridge-network", "DC0_DVPG0",
		"--container-network", "VM Network:public", "--container-network-gateway", "VM Network:10.9.0.1/24",
		"--container-network-ip-range", "VM Network:10.9.0.100-10.9.0.200", "--container-name-convention", name+"-{name}", "--cert-path", filepath.Join(dir, "vic-machine-certs"),
		"--target", user+"@"+host+"/DC0", "--thumbprint", tp)
	create.Env = append(os.Environ(), "VIC_MACHINE_PASSWORD="+pass)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}

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
		CACert: filepath.Join(certDir, certs.CA), ServerCert: filepath.Join(certDir, certs.ServerCert), ServerKey: filepath.Join(certDir, certs.ServerKey),
		Serial: o.serial, SimBacking: o.simBacking}
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
	for deadline := time.Now().Add(3 * time.Minute); ; {
		if r, err := runDocker(nil, environ, "", "version"); err == nil && r.Exit == 0 {
			break
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup, which waits for the end
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("vchd ended: %v\n%s", err, b)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("vchd's API never answered over TLS")
		}
	}
	return &vsphereVCH{name: name, vc: vc, finder: finder, kv: kv, environ: environ}
}

// docker runs the docker CLI against the VCH.
func (v *vsphereVCH) docker(stdin string, args ...string) (result, error) {
	return runDocker(nil, v.environ, stdin, args...)
}

// must runs the docker CLI and fails t unless it exits 0; it returns
// the trimmed stdout.
func (v *vsphereVCH) must(t *testing.T, args ...string) string {
	t.Helper()
	r, err := v.docker("", args...)
	if err != nil || r.Exit != 0 {
		t.Fatalf("docker %s: %v %s", strings.Join(args, " "), err, r)
	}
	return strings.TrimSpace(r.Stdout)
}

// TestVSphereVCHFromGuestinfo: the built vic-machine creates a VCH on a
// simulated vCenter and the built vchd serves it (startVSphereVCH); the
// docker CLI over TLS then works on the vsphere providers: networks are
// port groups, volumes are VMDKs, containers are VMs in the VCH's pool.
func TestVSphereVCHFromGuestinfo(t *testing.T) {
	v := startVSphereVCH(t, vsphereOptions{name: "vse2e"})
	ctx := context.Background()
	name, finder, kv := v.name, v.finder, v.kv
	must := func(args ...string) string {
		t.Helper()
		return v.must(t, args...)
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

// TestVSphereContainerRun: containers run through the real docker CLI
// on a vSphere VCH (startVSphereVCH) whose container VMs the simulator
// backs with docker containers of a dockerd of the test's own, their
// image the built tether plus busybox: the tether is each VM's PID 1,
// reads its config from guestinfo and reaches vchd's serial
// concentrator. run --rm, exit codes with both streams, -i, the /etc
// files of -h/--dns/--dns-search/--add-host, run -d with logs, ps,
// inspect, exec, cp both ways, stop and rm; the simulator shows each
// container's VM gone after rm.
func TestVSphereContainerRun(t *testing.T) {
	d := vsimtest.StartDockerd(t) // before the simulator: it runs the docker CLI
	vsimtest.TetherImage(t, d, "vch-tether:e2e", filepath.Join(env.repo, "bin", "tether"))
	v := startVSphereVCH(t, vsphereOptions{
		name: "vch-vse2e-run", serial: "127.0.0.1:" + strconv.Itoa(freePortOrFail(t)),
		simBacking: []string{"vch-tether:e2e", "/tether"},
	})
	ctx := context.Background()
	run := func(stdin string, args ...string) result {
		t.Helper()
		r, err := v.docker(stdin, args...)
		if err != nil {
			t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
		}
		return r
	}
	vmGone := func(container string) {
		t.Helper()
		if _, err := v.finder.VirtualMachine(ctx, v.name+"-"+container); err == nil {
			t.Errorf("the VM of container %s is still on the simulator", container)
		}
	}
	v.must(t, "pull", env.busybox)

	// run --rm: output and exit status, then the VM is gone.
	if r := run("", "run", "--rm", "--name", "hi", env.busybox, "echo", "hi"); r.Exit != 0 || r.Stdout != "hi\n" {
		t.Errorf("run --rm echo hi: %s", r)
	}
	vmGone("hi")

	// The exit code, with stdout and stderr apart.
	if r := run("", "run", "--name", "three", env.busybox, "sh", "-c", "echo out; echo err >&2; exit 3"); r.Exit != 3 || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("run exit 3: %s", r)
	}
	if got := v.must(t, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "three"); got != "exited 3" {
		t.Errorf("inspect of the exited container: %q", got)
	}

	// -i: stdin reaches the process; its EOF ends it.
	if r := run("piped in\n", "run", "-i", "--rm", "--name", "cat", env.busybox, "cat"); r.Exit != 0 || r.Stdout != "piped in\n" {
		t.Errorf("run -i cat: %s", r)
	}
	vmGone("cat")

	// -h, --dns, --dns-search, --add-host: the tether writes the /etc files.
	r := run("", "run", "--rm", "--name", "etc", "-h", "vmhost", "--dns", "10.1.2.3", "--dns-search", "example.test",
		"--add-host", "db.example.test:10.4.5.6", env.busybox, "sh", "-c", "cat /etc/hostname; echo ---; cat /etc/resolv.conf; echo ---; cat /etc/hosts")
	if r.Exit != 0 {
		t.Fatalf("run with -h --dns --dns-search --add-host: %s", r)
	}
	parts := strings.Split(r.Stdout, "---\n")
	if len(parts) != 3 {
		t.Fatalf("the /etc files: %q", r.Stdout)
	}
	if strings.TrimSpace(parts[0]) != "vmhost" {
		t.Errorf("/etc/hostname %q", parts[0])
	}
	if !strings.Contains(parts[1], "nameserver 10.1.2.3") || !strings.Contains(parts[1], "search example.test") {
		t.Errorf("/etc/resolv.conf %q", parts[1])
	}
	if !hostsHas(parts[2], "10.4.5.6", "db.example.test") {
		t.Errorf("/etc/hosts %q lacks the --add-host entry", parts[2])
	}

	// run -d, then logs, ps, inspect.
	v.must(t, "run", "-d", "--name", "bg", env.busybox, "sh", "-c", "echo started; exec sleep 600")
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if out := v.must(t, "logs", "bg"); out == "started" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("logs of bg: %q", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := v.must(t, "ps", "--filter", "name=bg", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(got, "bg Up") {
		t.Errorf("ps: %q", got)
	}
	if got := v.must(t, "inspect", "--format", "{{.State.Status}} {{.State.Running}}", "bg"); got != "running true" {
		t.Errorf("inspect: %q", got)
	}

	// exec: output and exit code.
	if r := run("", "exec", "bg", "sh", "-c", "echo in-exec; exit 5"); r.Exit != 5 || r.Stdout != "in-exec\n" {
		t.Errorf("exec exit 5: %s", r)
	}

	// cp in and out.
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("copied in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v.must(t, "cp", in, "bg:/tmp/in.txt")
	if got := v.must(t, "exec", "bg", "cat", "/tmp/in.txt"); got != "copied in" {
		t.Errorf("the copied file in the container: %q", got)
	}
	v.must(t, "exec", "bg", "sh", "-c", "echo made inside > /tmp/out.txt")
	v.must(t, "cp", "bg:/tmp/out.txt", dir)
	if b, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(b) != "made inside\n" {
		t.Errorf("the file copied out: %q %v", b, err)
	}

	// stop, then cp from the stopped container (a maintenance boot), rm.
	v.must(t, "stop", "-t", "2", "bg")
	if got := v.must(t, "inspect", "--format", "{{.State.Status}}", "bg"); got != "exited" {
		t.Errorf("inspect after stop: %q", got)
	}
	v.must(t, "cp", "bg:/tmp/in.txt", filepath.Join(dir, "again.txt"))
	if b, err := os.ReadFile(filepath.Join(dir, "again.txt")); err != nil || string(b) != "copied in\n" {
		t.Errorf("the file copied out of the stopped container: %q %v", b, err)
	}
	if got := v.must(t, "inspect", "--format", "{{.State.Status}}", "bg"); got != "exited" {
		t.Errorf("inspect after cp from the stopped container: %q", got)
	}
	v.must(t, "rm", "bg", "three")
	vmGone("bg")
	vmGone("three")
	if got := v.must(t, "ps", "-a", "--format", "{{.Names}}"); got != "" {
		t.Errorf("ps -a after rm: %q", got)
	}
}

// hostsHas tells whether an /etc/hosts text maps ip to name.
func hostsHas(hosts, ip, name string) bool {
	for _, line := range strings.Split(hosts, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != ip {
			continue
		}
		for _, n := range f[1:] {
			if n == name {
				return true
			}
		}
	}
	return false
}
