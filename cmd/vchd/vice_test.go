package main

import (
	"context"
	"encoding/json"
	"github.com/vchproject/vch/tests/vcsim/simproc"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/certs"
	"github.com/vchproject/vch/machine/vchconfig"
	"github.com/vchproject/vch/tests/fixture"
)

// TestVSphereVCHFromVicMachine: a VCH made by the built vic-machine
// (create --target against tests/vcsim, a simulated vCenter over TLS in
// its own process) is served by vchd from nothing but the endpoint VM's
// guestinfo.vice keys (as VMX_GUESTINFO_* variables, which is how a
// docker-backed simulator VM gets them) and the appliance's own settings.
// The real docker CLI over TLS on 127.0.0.1 then sees the vsphere
// providers: networks are the VCH's port groups, volumes VMDKs in the
// volume store, and docker create makes a VM in the VCH's pool.
func TestVSphereVCHFromVicMachine(t *testing.T) {
	const user, pass = "administrator@vsphere.local", "Vch-s3cret"
	dir := t.TempDir()
	bin, sim := filepath.Join(dir, "vic-machine"), filepath.Join(dir, "vcsim")
	for out, pkg := range map[string]string{bin: "../vic-machine", sim: "../../tests/vcsim"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	vs := simproc.Start(t, sim, user, pass)
	host, tp := vs.Host, vs.Thumbprint

	create := exec.Command(bin, "create", "--name", "vchx", "--compute-resource", "DC0_C0", "--image-store", "LocalDS_0",
		"--volume-store", "LocalDS_0/vchx-vols:default", "--bridge-network", "DC0_DVPG0", "--public-network", "VM Network",
		"--container-network", "VM Network:public", "--container-network-gateway", "VM Network:10.9.0.1/24",
		"--container-network-ip-range", "VM Network:10.9.0.100-10.9.0.200", "--container-name-convention", "vchx-{name}",
		"--container-memory", "256M", "--cert-path", filepath.Join(dir, "certs"), "--target", user+"@"+host+"/DC0", "--thumbprint", tp)
	create.Env = append(os.Environ(), "VIC_MACHINE_PASSWORD="+pass)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}

	// The endpoint VM's extraConfig, read as the login user.
	ctx := context.Background()
	vc, finder := vs.Login(t)
	kv := simproc.ExtraConfig(t, vc, finder, "vchx")
	env := vice.ToEnv(kv)
	if len(env) == 0 {
		t.Fatalf("no guestinfo.vice keys on the endpoint VM: %v", kv)
	}

	// The appliance: its root, API address and TLS files.
	root := filepath.Join(dir, "appliance")
	certDir := filepath.Join(dir, "certs")
	if err := certs.Generate(certDir, filepath.Join(dir, "ca-key.pem"), certs.Options{CommonName: "vchx"}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	a := vchconfig.Appliance{Root: root, APIAddr: addr, User: user,
		CACert: filepath.Join(certDir, certs.CA), ServerCert: filepath.Join(certDir, certs.ServerCert), ServerKey: filepath.Join(certDir, certs.ServerKey)}
	ab, _ := json.Marshal(a)
	appliance := filepath.Join(dir, "appliance.json")
	if err := os.WriteFile(appliance, ab, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VCH_VSPHERE_PASSWORD", pass) // no ops user: the login user's password
	cfgPath, err := viceConfig(appliance, append([]string{"PATH=/bin", "VMX_GUESTINFO=true"}, env...))
	if err != nil {
		t.Fatal(err)
	}
	var cfg vchconfig.Config
	if b, err := os.ReadFile(cfgPath); err != nil || json.Unmarshal(b, &cfg) != nil {
		t.Fatalf("written config: %v", err)
	}
	if cfg.Providers != (vchconfig.Providers{Compute: "vsphere", Images: "vsphere", Volumes: "vsphere", Network: "vsphere"}) ||
		cfg.VSphere.Pool != "/DC0/host/DC0_C0/Resources/vchx" || cfg.VSphere.Thumbprint != tp || cfg.VSphere.BridgePortGroup != "DC0_DVPG0" ||
		cfg.VSphere.URL != "https://"+host+"/sdk" || len(cfg.VolumeStores) != 1 || cfg.VolumeStores[0].Path != "[LocalDS_0] vchx-vols" {
		t.Fatalf("config from guestinfo: %+v %+v", cfg, cfg.VSphere)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(runCtx, cfgPath, zaptest.NewLogger(t), runOptions{inProcess: true}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && runCtx.Err() == nil {
			t.Errorf("vchd: %v", err)
		}
	})
	dockerBin, err := exec.LookPath("docker")
	if err != nil {
		t.Fatalf("the docker CLI is needed: %v", err)
	}
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(dockerBin, append([]string{"-H", "tcp://" + addr, "--tlsverify", "--tlscacert", a.CACert,
			"--tlscert", filepath.Join(certDir, certs.ClientCert), "--tlskey", filepath.Join(certDir, certs.ClientKey)}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "DOCKER_HOST=", "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return out
	}
	waitAPI(t, cli, done)

	if out := must("info", "--format", "{{.Name}} {{.DefaultRuntime}}"); !strings.HasSuffix(out, " vsphere") {
		t.Errorf("docker info %q", out)
	}
	if out := must("network", "ls", "--format", "{{.Name}} {{.Driver}}"); out != "bridge bridge\npublic external" {
		t.Errorf("network ls %q", out)
	}
	must("volume", "create", "--opt", "Capacity=16MB", "data")
	if out := must("volume", "ls", "--format", "{{.Name}}"); out != "data" {
		t.Errorf("volume ls %q", out)
	}
	ds, err := finder.Datastore(ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Stat(ctx, "vchx-vols/volumes/data/data.vmdk"); err != nil {
		t.Errorf("the volume's VMDK in the VCH's volume store: %v", err)
	}
	if _, err := ds.Stat(ctx, "vchx/network.json"); err != nil {
		t.Errorf("the network book in the endpoint's folder: %v", err)
	}

	reg := fixture.StartRegistry(t)
	img, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Push(ctx, "busybox", "latest", img); err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr + "/busybox:latest"
	must("pull", ref)
	// The vsphere image store: busybox's one layer is a VMDK in the VCH's
	// image folder on the image datastore.
	chain := strings.TrimPrefix(img.Layers[0].DiffID, "sha256:")
	if _, err := ds.Stat(ctx, cfg.VSphere.ImageFolder+"/"+chain+"/"+chain+".vmdk"); err != nil {
		t.Errorf("the image's layer disk in %s: %v", cfg.VSphere.ImageFolder, err)
	}
	must("create", "--name", "web", "--network", "public", "-v", "data:/data", ref, "sleep", "600")
	vm, err := finder.VirtualMachine(ctx, "vchx-web")
	if err != nil {
		t.Fatalf("the container's VM: %v", err)
	}
	pool, err := vm.ResourcePool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pm mo.ResourcePool
	if err := property.DefaultCollector(vc).RetrieveOne(ctx, pool.Reference(), []string{"name"}, &pm); err != nil || pm.Name != "vchx" {
		t.Fatalf("the container VM's pool %q (%v), want the VCH's", pm.Name, err)
	}
	must("start", "web")
	if out := must("inspect", "--format", "{{.State.Status}} {{.NetworkSettings.Networks.public.IPAddress}}", "web"); out != "running 10.9.0.100" {
		t.Errorf("inspect after start %q", out)
	}
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The writable layer: a child disk of the image's top layer VMDK.
	var parent string
	for _, d := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		if b, ok := d.(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && b.Parent != nil {
			parent = b.Parent.FileName
		}
	}
	if want := "[LocalDS_0] " + cfg.VSphere.ImageFolder + "/" + chain + "/" + chain + ".vmdk"; parent != want {
		t.Errorf("the container VM's writable layer has parent %q, want %q", parent, want)
	}
	nics := devs.SelectByType((*types.VirtualVmxnet3)(nil))
	if len(nics) != 1 {
		t.Fatalf("%d vmxnet3 NICs, want 1", len(nics))
	}
	netRef, err := finder.Network(ctx, "VM Network")
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := nics[0].GetVirtualDevice().Backing.(*types.VirtualEthernetCardNetworkBackingInfo); !ok || b.Network == nil || *b.Network != netRef.Reference() {
		t.Fatalf("NIC backing %#v, want the port group VM Network", nics[0].GetVirtualDevice().Backing)
	}
	must("kill", "web")
	must("rm", "web")
	if _, err := finder.VirtualMachine(ctx, "vchx-web"); err == nil {
		t.Fatal("the VM is still there after rm")
	}
}
