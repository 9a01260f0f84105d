package vsimtest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/internal/qmp/qmptest"
)

func vmxnet3(key int32, mac string, backing types.BaseVirtualDeviceBackingInfo) *types.VirtualVmxnet3 {
	return &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
		VirtualDevice: types.VirtualDevice{Key: key, Backing: backing}, AddressType: "manual", MacAddress: mac}}}
}

func netBacking(name string) *types.VirtualEthernetCardNetworkBackingInfo {
	return &types.VirtualEthernetCardNetworkBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: name}}
}

// TestDiffNICs: a running VM's NICs are told apart by device key, MAC
// (any case) and port group: the configuration's NICs its QEMU lacks are
// added, the QEMU's NICs the configuration lost are removed, a NIC moved
// to another port group or given another MAC is both, and NICs being
// removed already are neither kept nor removed again. The boot NICs are
// the command line's net0, net1, … in the configuration's order.
func TestDiffNICs(t *testing.T) {
	dvpg := &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{Port: types.DistributedVirtualSwitchPortConnection{PortgroupKey: "dvportgroup-1"}}
	devs := []types.BaseVirtualDevice{
		&types.VirtualCdrom{VirtualDevice: types.VirtualDevice{Key: 3000}},
		vmxnet3(4000, "02:42:AC:10:00:02", dvpg),
		vmxnet3(4001, "02:42:0a:00:00:05", netBacking("VM Network")),
	}
	boot := bootNICs(devs)
	if len(boot) != 2 || boot[0].Netdev != "net0" || boot[0].MAC != "02:42:ac:10:00:02" || boot[0].Backing != "dvpg:dvportgroup-1" || boot[0].Key != 4000 ||
		boot[1].Netdev != "net1" || boot[1].Backing != "network:VM Network" || boot[0].Device != "" {
		t.Fatalf("boot NICs %+v", boot)
	}
	same := nicsOf(devs)
	if add, rm := diffNICs(boot, same); len(add) != 0 || len(rm) != 0 {
		t.Fatalf("no change: add %+v, remove %v", add, rm)
	}

	hot := vmNIC{Key: 4002, MAC: "02:43:aa:bb:cc:01", Backing: "network:VM Network"}
	if add, rm := diffNICs(boot, append(same, hot)); len(add) != 1 || add[0] != hot || len(rm) != 0 {
		t.Fatalf("plug: add %+v, remove %v", add, rm)
	}
	have := append(boot, runNIC{vmNIC: hot, Netdev: "hotnet1", Device: "hotnic1"})
	if add, rm := diffNICs(have, same); len(add) != 0 || !reflect.DeepEqual(rm, []int{2}) {
		t.Fatalf("unplug: add %+v, remove %v", add, rm)
	}
	// The first NIC moved to another port group, the second got another
	// MAC: each is removed and added.
	moved := []vmNIC{{Key: 4000, MAC: same[0].MAC, Backing: "network:VM Network"}, {Key: 4001, MAC: "02:42:0a:00:00:06", Backing: same[1].Backing}, hot}
	add, rm := diffNICs(have, moved)
	if len(add) != 2 || add[0] != moved[0] || add[1] != moved[1] || !reflect.DeepEqual(rm, []int{0, 1}) {
		t.Fatalf("moved: add %+v, remove %v", add, rm)
	}
	// A NIC being removed is not removed again, nor does it count as
	// present when the configuration has it (again).
	have[2].Removing = time.Now()
	if add, rm := diffNICs(have, same); len(add) != 0 || len(rm) != 0 {
		t.Fatalf("removal under way: add %+v, remove %v", add, rm)
	}
	if add, rm := diffNICs(have, append(same, hot)); len(add) != 1 || add[0] != hot || len(rm) != 0 {
		t.Fatalf("re-added during its removal: add %+v, remove %v", add, rm)
	}
	// Done removals and broken NICs being removed drop out.
	gone := []runNIC{{Netdev: "net0"}, {Netdev: ""}, {Netdev: "hotnet2", Broken: true, Removing: time.Now()}, {Netdev: "hotnet3", Broken: true}}
	if got := dropGone(gone); len(got) != 2 || got[0].Netdev != "net0" || got[1].Netdev != "hotnet3" {
		t.Fatalf("dropGone %+v", got)
	}
}

// startQEMU starts a QEMU that boots nothing (-S), with a QMP monitor and
// extra arguments; it is killed when t ends.
func startQEMU(t *testing.T, extra ...string) (sock string) {
	t.Helper()
	return qmptest.Start(t, extra...)
}

// pciDevices lists the ids (qdev_id) of the devices on QEMU's PCI buses by
// their class description.
func pciDevices(t *testing.T, ctx context.Context, q *qmpClient) map[string]string {
	t.Helper()
	var buses []struct {
		Devices []struct {
			QdevID string `json:"qdev_id"`
			Slot   int    `json:"slot"`
			ID     struct {
				Device int `json:"device"`
				Vendor int `json:"vendor"`
			} `json:"id"`
		} `json:"devices"`
	}
	if err := q.Execute(ctx, "query-pci", nil, &buses); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range buses {
		for _, d := range b.Devices {
			// vmxnet3: VMware 15ad:07b0.
			if d.ID.Vendor == 0x15ad && d.ID.Device == 0x07b0 {
				out[d.QdevID] = "vmxnet3"
			}
		}
	}
	return out
}

// TestHotPlugNICs: a QEMU started as args starts a VM with one NIC (on a
// port group's switch) gets, through syncNICs over its monitor, a NIC
// hot-added on another port group's switch (connected to it, with the
// configuration's MAC) and one on the user-mode network of a UserNets
// port group; when the configuration loses the hot-added switch NIC and
// the boot NIC, device_del asks the guest to eject them (by id, and the
// boot NIC by its QOM path, found by MAC); a guest that does not answer
// (here: none runs) has its NICs' netdevs deleted after ejectWait.
func TestHotPlugNICs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h := &QEMUHost{log: zaptest.NewLogger(t), dir: t.TempDir(), accel: "tcg", ds: map[string]string{}, switches: map[string]*portSwitch{},
		opts: QEMUHostOptions{UserNets: map[string]string{"VM Network": "restrict=on"}}}
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	close(h.done)
	defer h.Close()
	bridge, err := h.Switch("bridge-pg")
	if err != nil {
		t.Fatal(err)
	}
	devs := []types.BaseVirtualDevice{vmxnet3(4000, "02:42:ac:10:00:02", netBacking("bridge-pg"))}
	sock := startQEMU(t, "-netdev", "socket,id=net0,connect="+bridge, "-device", "vmxnet3,netdev=net0,mac=02:42:ac:10:00:02")
	g := &guest{name: "vm1", nics: bootNICs(devs), qmpPath: sock, exited: make(chan struct{})}
	defer func() {
		if g.qmp != nil {
			g.qmp.Close()
		}
	}()

	// Plug: one NIC on a second port group's switch, one on a user-mode
	// network.
	devs = append(devs, vmxnet3(4001, "02:43:aa:bb:cc:01", netBacking("back-pg")), vmxnet3(4002, "02:43:aa:bb:cc:02", netBacking("VM Network")))
	h.syncNICs(ctx, g, nicsOf(devs))
	if g.qmp == nil {
		t.Fatal("no monitor connection")
	}
	if len(g.nics) != 3 || g.nics[1].Device != "hotnic1" || g.nics[1].Netdev != "hotnet1" || g.nics[2].Device != "hotnic2" || g.nics[1].Broken || g.nics[2].Broken {
		t.Fatalf("NICs after plug %+v", g.nics)
	}
	pci := pciDevices(t, ctx, g.qmp)
	if len(pci) != 3 || pci["hotnic1"] == "" || pci["hotnic2"] == "" {
		t.Fatalf("vmxnet3 devices on the PCI bus: %v", pci)
	}
	for dev, mac := range map[string]string{"hotnic1": "02:43:aa:bb:cc:01", "hotnic2": "02:43:aa:bb:cc:02"} {
		var got string
		if err := g.qmp.Execute(ctx, "qom-get", map[string]string{"path": "/machine/peripheral/" + dev, "property": "mac"}, &got); err != nil || got != mac {
			t.Fatalf("%s's MAC %q %v, want %s", dev, got, err, mac)
		}
	}
	info, err := g.qmp.HMP(ctx, "info network")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hotnet1: index=0,type=socket,", "hotnet2: index=0,type=user,"} {
		if !strings.Contains(info, want) {
			t.Fatalf("info network lacks %q:\n%s", want, info)
		}
	}
	// The switch of back-pg has QEMU's connection.
	waitPorts(t, switchOf(h, "back-pg"), 1)
	// The same configuration again changes nothing.
	h.syncNICs(ctx, g, nicsOf(devs))
	if len(g.nics) != 3 || g.hotSeq != 2 {
		t.Fatalf("NICs after a second look %+v", g.nics)
	}

	// Unplug the boot NIC and the switch NIC: device_del for both.
	h.syncNICs(ctx, g, nicsOf(devs[2:]))
	if len(g.nics) != 3 {
		t.Fatalf("NICs while removing %+v", g.nics)
	}
	for _, i := range []int{0, 1} {
		if g.nics[i].Removing.IsZero() || g.nics[i].Netdev == "" {
			t.Fatalf("NIC %d not being removed: %+v", i, g.nics[i])
		}
	}
	if g.nics[1].Path != "hotnic1" || !strings.HasPrefix(g.nics[0].Path, "/machine/peripheral-anon/device[") {
		t.Fatalf("device_del paths %q, %q", g.nics[0].Path, g.nics[1].Path)
	}
	if !g.nics[2].Removing.IsZero() {
		t.Fatalf("the user-mode NIC is being removed: %+v", g.nics[2])
	}
	// A second device_del of a device being removed is not sent.
	h.syncNICs(ctx, g, nicsOf(devs[2:]))
	if len(g.nics) != 3 {
		t.Fatalf("NICs while removing, second look %+v", g.nics)
	}
	// No guest acknowledges: after ejectWait the netdevs go.
	g.nics[0].Removing = time.Now().Add(-ejectWait - time.Second)
	g.nics[1].Removing = time.Now().Add(-ejectWait - time.Second)
	h.syncNICs(ctx, g, nicsOf(devs[2:]))
	if len(g.nics) != 1 || g.nics[0].Device != "hotnic2" {
		t.Fatalf("NICs after the eject wait %+v", g.nics)
	}
	// Their switches lost QEMU's connections (QEMU keeps a NIC's
	// deleted netdev listed while the NIC stays).
	waitPorts(t, switchOf(h, "back-pg"), 0)
	waitPorts(t, switchOf(h, "bridge-pg"), 0)
}

func switchOf(h *QEMUHost, pg string) *portSwitch {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.switches[pg]
}
