package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/machine/vchconfig"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/tests/fixture"
)

// TestVSphereVolumesThroughDockerCLI runs vchd with the vsphere compute
// and volume providers on govmomi's simulator (chosen by the registry from
// the config) and drives it with the real docker CLI: info names the
// runtime and the volume stores, volumes are VMDKs on the datastore.
func TestVSphereVolumesThroughDockerCLI(t *testing.T) {
	sim, cli := startVSphereVCH(t, "vsvch", "")
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return out
	}
	if out := must("info", "--format", "{{.DefaultRuntime}}"); out != "vsphere" {
		t.Errorf("docker info runtime %q, want vsphere", out)
	}
	must("volume", "create", "--opt", "Capacity=16MB", "--opt", "VolumeStore=fast", "data")
	out := must("volume", "inspect", "--format", "{{.Status.VolumeStore}} {{.Status.StorePath}}", "data")
	if out != "fast [LocalDS_0] vsvch-fast" {
		t.Errorf("volume inspect %q", out)
	}
	ds, err := sim.Session(t).Finder.Datastore(context.Background(), "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Stat(context.Background(), "vsvch-fast/volumes/data/data.vmdk"); err != nil {
		t.Fatalf("the volume's VMDK on the datastore: %v", err)
	}
	if out, err := cli("volume", "create", "--opt", "VolumeStore=nope", "xy"); err == nil || !strings.Contains(out, "no volume store named (nope)") {
		t.Errorf("unknown store: %v %s", err, out)
	}
	if out := must("volume", "ls", "--format", "{{.Name}}"); out != "data" {
		t.Errorf("volume ls %q", out)
	}
	must("volume", "rm", "data")
	if _, err := ds.Stat(context.Background(), "vsvch-fast/volumes/data"); err == nil {
		t.Error("the volume's folder is still on the datastore")
	}
	if out := must("ps", "-a", "-q"); out != "" {
		t.Errorf("ps -a on a new vSphere VCH: %q", out)
	}
	// Networks are port groups: a user-defined one is made on the
	// bridge's distributed switch and removed with the network.
	if out := must("network", "ls", "--format", "{{.Name}} {{.Driver}}"); out != "bridge bridge" {
		t.Errorf("network ls %q", out)
	}
	id := must("network", "create", "back")
	pg := "vsvch-" + id[:12]
	if _, err := sim.Session(t).Finder.Network(context.Background(), pg); err != nil {
		t.Errorf("the network's port group %s: %v", pg, err)
	}
	must("network", "rm", "back")
	if _, err := sim.Session(t).Finder.Network(context.Background(), pg); err == nil {
		t.Errorf("port group %s is still there after network rm", pg)
	}
}

// startVSphereVCH runs vchd on the shared simulator with the vsphere
// compute, volume and network providers (bridge on DC0_DVPG0) and local
// images, and returns a docker CLI runner for it.
func startVSphereVCH(t *testing.T, name, convention string) (*vsimtest.Sim, func(args ...string) (string, error)) {
	t.Helper()
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Fatalf("the docker CLI is needed: %v", err)
	}
	sim := vsimtest.Shared(t)
	root := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	vsURL := sim.Server.URL
	user := vsURL.User.Username()
	pass, _ := vsURL.User.Password()
	u := *vsURL
	u.User = nil
	cfg := vchconfig.Config{
		Name: name, Root: root, ContainerNameConvention: convention, APIAddr: addr, NoTLS: true, CPUs: 1, MemoryMB: 256,
		VolumeStores: []vchconfig.VolumeStore{{Label: "default", Path: "[LocalDS_0] " + name}, {Label: "fast", Path: "[LocalDS_0] " + name + "-fast"}},
		Providers:    vchconfig.Providers{Compute: "vsphere", Volumes: "vsphere", Network: "vsphere"},
		VSphere: &vchconfig.VSphere{URL: u.String(), User: user, Password: pass, Insecure: true,
			Datacenter: "/DC0", Pool: "/DC0/host/DC0_C0/Resources", ImageDatastore: "LocalDS_0",
			BridgePortGroup: "DC0_DVPG0"},
	}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(root, "config.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfgPath, zaptest.NewLogger(t), runOptions{inProcess: true}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("vchd: %v", err)
		}
	})
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(docker, append([]string{"-H", "tcp://" + addr}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "DOCKER_TLS_VERIFY=", "DOCKER_HOST=")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	waitAPI(t, cli, done)
	return sim, cli
}

// TestVSphereContainerThroughDockerCLI: docker create, start, inspect,
// kill and rm of a container on a vSphere VCH: the VM appears in the
// VCH's pool under the name convention, its power state follows, and rm
// destroys it. The image comes from a local registry into the local
// image store (no vSphere image store yet; the simulator boots nothing).
func TestVSphereContainerThroughDockerCLI(t *testing.T) {
	reg := fixture.StartRegistry(t)
	img, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Push(context.Background(), "busybox", "latest", img); err != nil {
		t.Fatal(err)
	}
	sim, cli := startVSphereVCH(t, "vsctr", "vch-{name}")
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return out
	}
	ref := reg.Addr + "/busybox:latest"
	must("pull", ref)
	must("create", "--name", "web", ref, "sleep", "600")
	sess := sim.Session(t)
	ctx := context.Background()
	vm, err := sess.Finder.VirtualMachine(ctx, "vch-web")
	if err != nil {
		t.Fatalf("the container's VM: %v", err)
	}
	pool, err := vm.ResourcePool(ctx)
	if err != nil || pool.Reference() != sess.Pool.Reference() {
		t.Fatalf("VM pool %v (%v), want the VCH's %v", pool, err, sess.Pool.Reference())
	}
	if out := must("inspect", "--format", "{{.State.Status}}", "web"); out != "created" {
		t.Fatalf("state after create %q", out)
	}
	must("start", "web")
	if out := must("inspect", "--format", "{{.State.Status}}", "web"); out != "running" {
		t.Fatalf("state after start %q", out)
	}
	power := func() string {
		st, err := vm.PowerState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(st)
	}
	if p := power(); p != "poweredOn" {
		t.Fatalf("VM %s after start", p)
	}
	// Its NIC is a vmxnet3 on the bridge port group with the endpoint's MAC.
	mac := must("inspect", "--format", "{{.NetworkSettings.Networks.bridge.MacAddress}}", "web")
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nics := devs.SelectByType((*types.VirtualVmxnet3)(nil))
	if mac == "" || len(nics) != 1 || nics[0].(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().MacAddress != mac {
		t.Fatalf("the VM's NICs %d, want one with MAC %s", len(nics), mac)
	}
	if _, ok := nics[0].GetVirtualDevice().Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); !ok {
		t.Fatalf("NIC backing %T, want the distributed port group", nics[0].GetVirtualDevice().Backing)
	}
	// network connect while running hot-adds a NIC on the network's port
	// group; disconnect removes it.
	netID := must("network", "create", "back")
	must("network", "connect", "back", "web")
	backMAC := must("inspect", "--format", "{{.NetworkSettings.Networks.back.MacAddress}}", "web")
	backPG, err := sess.Finder.Network(ctx, "vsctr-"+netID[:12])
	if err != nil {
		t.Fatal(err)
	}
	if devs, err = vm.Device(ctx); err != nil {
		t.Fatal(err)
	}
	nics = devs.SelectByType((*types.VirtualVmxnet3)(nil))
	found := false
	for _, n := range nics {
		card := n.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		if b, ok := card.Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); ok && card.MacAddress == backMAC && b.Port.PortgroupKey == backPG.Reference().Value {
			found = true
		}
	}
	if len(nics) != 2 || !found || backMAC == "" {
		t.Fatalf("after network connect: %d NICs, none with MAC %q on %s", len(nics), backMAC, backPG.Reference().Value)
	}
	must("network", "disconnect", "back", "web")
	if devs, err = vm.Device(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(devs.SelectByType((*types.VirtualVmxnet3)(nil))); n != 1 {
		t.Fatalf("after network disconnect: %d NICs", n)
	}
	must("network", "rm", "back")
	must("kill", "web")
	if out := must("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "web"); out != "exited 137" {
		t.Fatalf("state after kill %q", out)
	}
	if p := power(); p != "poweredOff" {
		t.Fatalf("VM %s after kill", p)
	}
	must("rm", "web")
	if _, err := sess.Finder.VirtualMachine(ctx, "vch-web"); err == nil {
		t.Fatal("the VM is still there after rm")
	}
	if out := must("ps", "-a", "-q"); out != "" {
		t.Fatalf("ps -a after rm %q", out)
	}
}

// waitAPI waits up to two minutes for the in-process vchd that will send
// its end to done to answer docker version through cli. A vchd that ended
// meanwhile fails the test, and its end goes back to done for the
// cleanup that waits for it.
func waitAPI(t *testing.T, cli func(...string) (string, error), done chan error) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := cli("version")
		if err == nil {
			return
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("vchd ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("vchd's API never answered: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
