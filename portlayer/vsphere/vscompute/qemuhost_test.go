package vscompute_test

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
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
)

// qemuEnv is a VCH on the shared simulator whose VMs run under a
// QEMUHost: the bootstrap ISO of this checkout on the datastore, an image
// store holding busybox (a real ext4 root on its layer disk), a volume
// store, and a provider with a serial concentrator. Names (VCH, folders)
// are name's.
type qemuEnv struct {
	sess   *vsession.Session
	p      *vscompute.Provider
	host   *vsimtest.QEMUHost
	image  string // busybox's image ID
	vols   *vsvolume.Provider
	folder string // "[LocalDS_0] name-files": the ISO, images, volumes
}

func newQEMUEnv(ctx context.Context, t *testing.T, name string) *qemuEnv {
	t.Helper()
	e := &qemuEnv{folder: "[LocalDS_0] " + name + "-files"}
	iso := vsimtest.BootstrapISO(t)
	sess := vsimtest.Shared(t).Session(t)
	e.sess = sess
	ds, err := sess.Finder.Datastore(ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	if err := object.NewFileManager(sess.Client).MakeDirectory(ctx, e.folder, sess.Datacenter, true); err != nil {
		t.Fatal(err)
	}
	if err := ds.UploadFile(ctx, iso, name+"-files/bootstrap.iso", nil); err != nil {
		t.Fatal(err)
	}
	staging, err := local.New(t.TempDir(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	images, err := vsstorage.New(ctx, vsstorage.Config{Session: sess, Folder: e.folder + "/VIC/x/images", Staging: staging, Logger: zaptest.NewLogger(t)})
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
	vols, err := vsvolume.New(ctx, sess, []volume.Store{{Label: volume.DefaultStore, Path: e.folder + "/volumes"}}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	e.vols, e.image = vols, img.ID
	e.p = serialProvider(t, sess, name, func(c *vscompute.Config) {
		c.Layers, c.Volumes, c.BootISO = images, vols, e.folder+"/bootstrap.iso"
	})
	e.host = vsimtest.StartQEMUHost(t, sess, zaptest.NewLogger(t))
	return e
}

// TestQEMUHostBootsTheBootstrapISO: a container VM made by vscompute
// (the bootstrap ISO of this checkout on its CD-ROM, a writable layer
// over busybox's layer disk, a volume, the serial ports) boots under
// vsimtest.QEMUHost as on an ESXi host: SeaBIOS boots the CD-ROM,
// ISOLINUX's banner reaches the console file in the
// VM's folder, both network serial ports connect to the concentrator,
// which probes them; QEMU's end powers the VM off, once, and the VM is
// not booted again. (It boots the VM under QEMU's TCG: hold the VM lock.)
func TestQEMUHostBootsTheBootstrapISO(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	e := newQEMUEnv(ctx, t, "vsqemu")
	p, host, vols, sess := e.p, e.host, e.vols, e.sess
	if _, err := vols.Create(ctx, volume.CreateOptions{Name: "data", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	id := hexID('6')
	s := compute.Spec{ID: id, Name: "vsqemu", Image: e.image, Process: compute.Process{Args: []string{"sh"}},
		Mounts: []compute.Mount{{Volume: "data", Path: "/data"}}}
	if err := p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	vm, err := sess.Finder.VirtualMachine(ctx, "vsqemu")
	if err != nil {
		t.Fatal(err)
	}
	// Powered on as vSphere would be asked to (Start would also wait for
	// the tether's events, which needs the guest side of the serial
	// transport).
	task, err := vm.PowerOn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	console, err := host.HostPath(ctx, "[LocalDS_0] vsqemu/"+vscompute.ConsoleFile)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	for {
		b, _ := os.ReadFile(console)
		text = string(b)
		conns, probes := vscompute.SerialStats(p)
		// The tether itself logs nothing on the console when all goes
		// well: its ports reaching the concentrator show it ran.
		if strings.Contains(text, "ISOLINUX ") && conns >= 2 && probes >= 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after %d boots: concentrator connections %d, probes %d; console:\n%s", host.Boots("vsqemu"), conns, probes, text)
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Logf("console:\n%s", text)

	// QEMU's end (the guest's power off; here QEMU ends on SIGTERM if the
	// guest has not ended it already) powers the VM off.
	if pid := host.Pid("vsqemu"); pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	for {
		var m mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.powerState"}, &m); err != nil {
			t.Fatal(err)
		}
		if m.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOff {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("VM %s after QEMU's end", m.Runtime.PowerState)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if n := host.Boots("vsqemu"); n != 1 {
		t.Fatalf("%d QEMU boots, want 1", n)
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := vols.Remove(ctx, "data"); err != nil {
		t.Fatal(err)
	}
}
