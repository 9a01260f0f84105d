package vscompute_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/local"
	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/portlayer/vsphere/vsstorage"
	"github.com/vchproject/vch/portlayer/vsphere/vsvolume"
	"github.com/vchproject/vch/tests/fixture"
	"github.com/vchproject/vch/tether/proto"
)

// extraConfig reads a VM's extraConfig as a map.
func extraConfig(t *testing.T, vm *object.VirtualMachine) map[string]string {
	t.Helper()
	var m mvmT
	if err := vm.Properties(context.Background(), vm.Reference(), []string{"config.extraConfig"}, &m); err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	for _, o := range m.Config.ExtraConfig {
		if s, ok := o.GetOptionValue().Value.(string); ok {
			kv[o.GetOptionValue().Key] = s
		}
	}
	return kv
}

// serialProvider is a provider with a serial concentrator on loopback.
func serialProvider(t *testing.T, sess *vsession.Session, vch string, edit func(*vscompute.Config)) *vscompute.Provider {
	t.Helper()
	cfg := vscompute.Config{Session: sess, VCH: vch, Datastore: "LocalDS_0", Serial: "127.0.0.1:0", LogDir: t.TempDir(), Logger: zaptest.NewLogger(t)}
	if edit != nil {
		edit(&cfg)
	}
	p, err := vscompute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestSerialPortsAndDisks: with a serial concentrator, a container VM
// gets three serial ports in the guest's order — serial0 a console file
// in its folder, serial1 and serial2 tcp:// client ports to the
// concentrator's address — and guestinfo.vch.disks names the SCSI units
// of its writable layer's disk (unit 0) and of its volumes' disks (in
// the order of their names, each once), as the VM's devices have them.
func TestSerialPortsAndDisks(t *testing.T) {
	ctx := context.Background()
	sess := vsimtest.Shared(t).Session(t)
	staging, err := local.New(t.TempDir(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	images, err := vsstorage.New(ctx, vsstorage.Config{Session: sess, Folder: "[LocalDS_0] vsserial/VIC/x/images", Staging: staging, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	reg := fixture.StartRegistry(t)
	if _, err := fixture.PushBusybox(ctx, reg.Addr, "busybox", "latest"); err != nil {
		t.Fatal(err)
	}
	img, err := images.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vols, err := vsvolume.New(ctx, sess, []volume.Store{{Label: volume.DefaultStore, Path: "[LocalDS_0] vsserial-vols"}}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"zeta", "alpha"} {
		if _, err := vols.Create(ctx, volume.CreateOptions{Name: n, Capacity: 16 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	p := serialProvider(t, sess, "vsserial", func(c *vscompute.Config) {
		c.Layers, c.Volumes, c.BootISO = images, vols, "[LocalDS_0] vsserial/bootstrap.iso"
	})
	id := hexID('5')
	s := compute.Spec{ID: id, Name: "vsserial", Image: img.ID, Process: compute.Process{Args: []string{"sh"}},
		Mounts: []compute.Mount{{Volume: "zeta", Path: "/z"}, {Volume: "alpha", Path: "/a"}, {Volume: "zeta", Path: "/z2"}}}
	if err := p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	vm, err := sess.Finder.VirtualMachine(ctx, "vsserial")
	if err != nil {
		t.Fatal(err)
	}
	kv := extraConfig(t, vm)
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}

	ports := devs.SelectByType((*types.VirtualSerialPort)(nil))
	if len(ports) != 3 {
		t.Fatalf("%d serial ports, want 3: %v", len(ports), ports)
	}
	for i, d := range ports {
		sp := d.(*types.VirtualSerialPort)
		if sp.UnitNumber == nil || int(*sp.UnitNumber) != i || !sp.YieldOnPoll || sp.Connectable == nil || !sp.Connectable.StartConnected {
			t.Errorf("serial port %d: unit %v, yieldOnPoll %v, connectable %+v", i, sp.UnitNumber, sp.YieldOnPoll, sp.Connectable)
		}
		switch b := sp.Backing.(type) {
		case *types.VirtualSerialPortFileBackingInfo:
			if i != 0 || b.FileName != "[LocalDS_0] vsserial/"+vscompute.ConsoleFile {
				t.Errorf("serial port %d: file %q, want serial0 on [LocalDS_0] vsserial/%s", i, b.FileName, vscompute.ConsoleFile)
			}
		case *types.VirtualSerialPortURIBackingInfo:
			if i == 0 || b.ServiceURI != "tcp://"+kv[vscompute.KeySerial] || b.Direction != string(types.VirtualDeviceURIBackingOptionDirectionClient) {
				t.Errorf("serial port %d: URI %q direction %q, want tcp://%s client", i, b.ServiceURI, b.Direction, kv[vscompute.KeySerial])
			}
		default:
			t.Errorf("serial port %d: backing %T", i, sp.Backing)
		}
	}
	if _, _, err := net.SplitHostPort(kv[vscompute.KeySerial]); err != nil {
		t.Fatalf("serial address %q: %v", kv[vscompute.KeySerial], err)
	}

	raw, err := base64.RawURLEncoding.DecodeString(kv[proto.GuestinfoDisks])
	if err != nil {
		t.Fatalf("%s = %q: %v", proto.GuestinfoDisks, kv[proto.GuestinfoDisks], err)
	}
	var units map[string]int
	if err := json.Unmarshal(raw, &units); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{proto.DiskRootKey: 0, "alpha": 1, "zeta": 2}
	if len(units) != len(want) {
		t.Fatalf("disks %v, want %v", units, want)
	}
	for k, u := range want {
		if got, ok := units[k]; !ok || got != u {
			t.Fatalf("disks %v, want %v", units, want)
		}
	}
	// The units are the VM's: the writable layer (a child disk) at 0, each
	// volume's VMDK at its unit, all on the PVSCSI controller.
	pvscsi := devs.SelectByType((*typesPVSCSI)(nil))
	if len(pvscsi) != 1 {
		t.Fatalf("%d PVSCSI controllers", len(pvscsi))
	}
	byUnit := map[int]*types.VirtualDisk{}
	for _, d := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		disk := d.(*types.VirtualDisk)
		if disk.ControllerKey != pvscsi[0].GetVirtualDevice().Key || disk.UnitNumber == nil {
			t.Fatalf("disk %v not on the PVSCSI controller", disk.Backing)
		}
		byUnit[int(*disk.UnitNumber)] = disk
	}
	if b := byUnit[0].Backing.(*types.VirtualDiskFlatVer2BackingInfo); b.Parent == nil {
		t.Fatalf("unit 0 is %q, want the writable layer (a child disk)", b.FileName)
	}
	for _, n := range []string{"alpha", "zeta"} {
		disk, err := vols.Disk(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if b := byUnit[units[n]].Backing.(*types.VirtualDiskFlatVer2BackingInfo); b.FileName != disk {
			t.Fatalf("unit %d is %q, want volume %s's %q", units[n], b.FileName, n, disk)
		}
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	// The volumes' disks outlive the container's VM.
	for _, n := range []string{"zeta", "alpha"} {
		disk, err := vols.Disk(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		var dp object.DatastorePath
		dp.FromString(disk)
		ds, err := sess.Finder.Datastore(ctx, dp.Datastore)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ds.Stat(ctx, dp.Path); err != nil {
			t.Errorf("volume %s's disk %s after the container's rm: %v", n, disk, err)
		}
	}
	for _, n := range []string{"zeta", "alpha"} {
		if err := vols.Remove(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
}

// hubConn dials the concentrator of a container's VM, as ESXi (or the
// tether) does, and returns the connection and the VM's token.
func hubConn(t *testing.T, vm *object.VirtualMachine) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	kv := extraConfig(t, vm)
	c, err := net.Dial("tcp", kv[vscompute.KeySerial])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c), kv[vscompute.KeyToken]
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read a line (got %q): %v", l, err)
	}
	return strings.TrimSuffix(l, "\n")
}

// TestSerialProbe: the concentrator speaks first on a serial connection
// (the host connects whenever the VM is on, before its tether runs): it
// probes until a valid hello arrives and ignores what comes before it
// (noise lines, an overlong line, a hello that does not parse); a tether
// that dials and says hello at once reads its boot line with no probe
// before it; a wrong token closes the connection.
func TestSerialProbe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sess := vsimtest.Shared(t).Session(t)
	p := serialProvider(t, sess, "vsprobe", nil)
	id := hexID('4')
	if err := p.Create(ctx, spec(id, "vsprobe")); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Remove(ctx, id); err != nil {
			t.Error(err)
		}
	}()
	vm, err := sess.Finder.VirtualMachine(ctx, "vsprobe")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("DialingTether", func(t *testing.T) {
		c, r, token := hubConn(t, vm)
		if _, err := c.Write([]byte(proto.SerialHello(id, proto.PortLog, token))); err != nil {
			t.Fatal(err)
		}
		if l := readLine(t, r); l != proto.BootRun {
			t.Fatalf("first line to a tether that said hello at once: %q, want %q", l, proto.BootRun)
		}
	})

	t.Run("ProbesUntilHello", func(t *testing.T) {
		c, r, token := hubConn(t, vm)
		for i := 0; i < 2; i++ {
			if l := readLine(t, r); l != proto.SerialProbe {
				t.Fatalf("line %d on a silent connection: %q, want the probe", i, l)
			}
		}
		noise := []string{
			"SeaBIOS (version 1.16)\r\n",
			strings.Repeat("x", 4000) + "\n",
			"vch-serial " + id + " " + proto.PortLog + "\n", // no token
			"vch-serial " + id + " nosuchport " + token + "\n",
			"\n",
		}
		for _, n := range noise {
			if _, err := c.Write([]byte(n)); err != nil {
				t.Fatal(err)
			}
		}
		// Still probing: the noise was ignored, the connection is open.
		if l := readLine(t, r); l != proto.SerialProbe {
			t.Fatalf("after noise: %q, want the probe", l)
		}
		if _, err := c.Write([]byte(proto.SerialHello(id, proto.PortLog, token))); err != nil {
			t.Fatal(err)
		}
		for {
			l := readLine(t, r)
			if l == proto.BootRun {
				break
			}
			if l != proto.SerialProbe {
				t.Fatalf("after the hello: %q, want probes then %q", l, proto.BootRun)
			}
		}
	})

	t.Run("WrongToken", func(t *testing.T) {
		c, r, _ := hubConn(t, vm)
		if _, err := c.Write([]byte(proto.SerialHello(id, proto.PortControl, strings.Repeat("0", 32)))); err != nil {
			t.Fatal(err)
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				if l != "" {
					t.Fatalf("partial line %q before the close", l)
				}
				return // closed
			}
			if strings.TrimSuffix(l, "\n") != proto.SerialProbe {
				t.Fatalf("after a wrong token: %q, want the connection closed", l)
			}
		}
	})
}
