package vsimtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"
)

// A running VM's NICs follow its configuration, as ESXi's do: a vmxnet3
// NIC added by a reconfigure is hot-added to its QEMU over the QMP
// monitor (netdev_add on the port group's switch or user-mode network,
// then device_add vmxnet3 with the NIC's MAC: machine pc's ACPI PCI
// hot-plug, on the next free slot of its PCI bus), and a NIC removed from
// the configuration is hot-removed (device_del; the guest acknowledges
// the ACPI eject, QEMU reports DEVICE_DELETED, then netdev_del).

// qmpSocket is the monitor's socket, in the VM's directory of the host.
const qmpSocket = "qmp.sock"

// maxUnixPath bounds a unix socket's path (sun_path, with its NUL).
const maxUnixPath = 108

// qmpTimeout bounds one monitor command, and connecting.
const qmpTimeout = 10 * time.Second

// ejectWait is how long a hot-removed NIC's guest has to acknowledge the
// eject; after it, the NIC's netdev is deleted anyway (the device, if the
// guest still holds it, is then on no network) and the NIC forgotten.
const ejectWait = 30 * time.Second

// vmNIC is a vmxnet3 NIC of a VM's configuration, as the host tells NICs
// apart: by device key, MAC and the port group of its backing. A change
// of any of them is a different NIC (a removal and an addition).
type vmNIC struct {
	Key     int32
	MAC     string // lower case; "" if vSphere has not assigned one
	Backing string // "network:NAME" or "dvpg:KEY"

	backing types.BaseVirtualDeviceBackingInfo
}

func (n vmNIC) same(o vmNIC) bool {
	return n.Key == o.Key && n.MAC == o.MAC && n.Backing == o.Backing
}

// runNIC is a NIC a guest's QEMU has.
type runNIC struct {
	vmNIC
	// Netdev is its -netdev/netdev_add id: net0, net1, … for the NICs
	// of the command line (in the configuration's order), hotnetN for
	// hot-added ones.
	Netdev string
	// Device is its device_add id (hotnicN); "" for a NIC of the command
	// line (its device has no id: it is found by MAC when removed).
	Device string
	// Removing is when device_del was sent (zero: not being removed);
	// Path is the device's id or QOM path it was sent for.
	Removing time.Time
	Path     string
	// Broken: its hot-add failed (logged), so QEMU has no such NIC; it
	// is not tried again.
	Broken bool
}

// nicsOf lists the vmxnet3 NICs of a VM's devices, in their order.
func nicsOf(devs []types.BaseVirtualDevice) []vmNIC {
	var out []vmNIC
	for _, d := range devs {
		card, ok := d.(*types.VirtualVmxnet3)
		if !ok {
			continue
		}
		n := vmNIC{Key: card.Key, MAC: strings.ToLower(card.MacAddress), backing: card.Backing}
		switch b := card.Backing.(type) {
		case *types.VirtualEthernetCardNetworkBackingInfo:
			n.Backing = "network:" + b.DeviceName
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			n.Backing = "dvpg:" + b.Port.PortgroupKey
		default:
			n.Backing = fmt.Sprintf("%T", b)
		}
		out = append(out, n)
	}
	return out
}

// bootNICs are the NICs QEMU's command line gives a VM with these
// devices (as args names them).
func bootNICs(devs []types.BaseVirtualDevice) []runNIC {
	var out []runNIC
	for i, n := range nicsOf(devs) {
		out = append(out, runNIC{vmNIC: n, Netdev: "net" + strconv.Itoa(i)})
	}
	return out
}

// diffNICs compares the NICs a QEMU has with the ones its VM's
// configuration wants: add are the wanted NICs it lacks, remove the
// indexes (in have) of its NICs no longer wanted. NICs being removed
// already count as gone.
func diffNICs(have []runNIC, want []vmNIC) (add []vmNIC, remove []int) {
	kept := make([]bool, len(have))
	for _, w := range want {
		found := false
		for i, h := range have {
			if !kept[i] && h.Removing.IsZero() && h.same(w) {
				kept[i], found = true, true
				break
			}
		}
		if !found {
			add = append(add, w)
		}
	}
	for i, h := range have {
		if !kept[i] && h.Removing.IsZero() {
			remove = append(remove, i)
		}
	}
	return add, remove
}

// followDevices brings the NICs and disks of the running guests' QEMUs
// in line with their VMs' configurations; what fails is logged (and, for
// a monitor not up yet, tried at the next poll).
func (h *QEMUHost) followDevices(ctx context.Context, running []*guest) {
	var live []*guest
	for _, g := range running {
		select {
		case <-g.exited:
		default:
			live = append(live, g)
		}
	}
	if len(live) == 0 {
		return
	}
	refs := make([]types.ManagedObjectReference, len(live))
	for i, g := range live {
		refs[i] = g.ref
	}
	var vms []mo.VirtualMachine
	if err := property.DefaultCollector(h.sess.Client).Retrieve(ctx, refs, []string{"config.hardware.device"}, &vms); err != nil {
		h.log.Warn("reading the running VMs' devices", zap.Error(err))
		return
	}
	devices := map[string][]types.BaseVirtualDevice{}
	for _, m := range vms {
		if m.Config != nil {
			devices[m.Self.Value] = m.Config.Hardware.Device
		}
	}
	for _, g := range live {
		devs, ok := devices[g.ref.Value]
		if !ok {
			continue // destroyed meanwhile: the next poll ends its QEMU
		}
		h.syncNICs(ctx, g, nicsOf(devs))
		h.syncDisks(ctx, g, disksOf(devs))
	}
}

// syncNICs hot-adds and hot-removes g's NICs to match want.
func (h *QEMUHost) syncNICs(ctx context.Context, g *guest, want []vmNIC) {
	add, remove := diffNICs(g.nics, want)
	pending := false
	for _, n := range g.nics {
		pending = pending || !n.Removing.IsZero()
	}
	if len(add) == 0 && len(remove) == 0 && !pending {
		return
	}
	log := h.log.With(zap.String("vm", g.name))
	if err := h.monitor(ctx, g); err != nil {
		log.Info("NICs changed, QEMU's monitor not reached yet", zap.Error(err))
		return
	}
	h.reapNICs(ctx, g, log)
	add, remove = diffNICs(g.nics, want) // the reaped ones are gone
	for _, i := range remove {
		h.unplug(ctx, g, &g.nics[i], log)
	}
	g.nics = dropGone(g.nics)
	for _, n := range add {
		g.nics = append(g.nics, h.plug(ctx, g, n, log))
	}
}

// dropGone drops the NICs that are no more: broken ones being removed
// (QEMU never had them), and ones whose removal finished (Netdev "").
func dropGone(nics []runNIC) []runNIC {
	out := nics[:0]
	for _, n := range nics {
		if n.Netdev == "" || (n.Broken && !n.Removing.IsZero()) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// plug hot-adds n to g's QEMU.
func (h *QEMUHost) plug(ctx context.Context, g *guest, n vmNIC, log *zap.Logger) runNIC {
	g.hotSeq++
	r := runNIC{vmNIC: n, Netdev: "hotnet" + strconv.Itoa(g.hotSeq), Device: "hotnic" + strconv.Itoa(g.hotSeq)}
	log = log.With(zap.String("mac", n.MAC), zap.String("device", r.Device))
	fail := func(err error) runNIC {
		log.Error("NIC added to the running VM, not hot-added to its QEMU", zap.Error(err))
		r.Broken = true
		return r
	}
	pg, err := h.portGroupOf(ctx, n.backing)
	if err != nil {
		return fail(err)
	}
	netdev := ""
	if opts, ok := h.opts.UserNets[pg]; ok {
		netdev = "user,id=" + r.Netdev + "," + opts
	} else {
		addr, err := h.Switch(pg)
		if err != nil {
			return fail(err)
		}
		netdev = "socket,id=" + r.Netdev + ",connect=" + addr
	}
	cctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	// HMP's netdev_add takes -netdev's option string as it is (a
	// port group's UserNets options too).
	if out, err := g.qmp.HMP(cctx, "netdev_add "+netdev); err != nil || strings.TrimSpace(out) != "" {
		return fail(fmt.Errorf("netdev_add %s: %v %s", netdev, err, strings.TrimSpace(out)))
	}
	args := map[string]string{"driver": "vmxnet3", "id": r.Device, "netdev": r.Netdev}
	if n.MAC != "" {
		args["mac"] = n.MAC
	}
	if err := g.qmp.Execute(cctx, "device_add", args, nil); err != nil {
		if derr := g.qmp.Execute(cctx, "netdev_del", map[string]string{"id": r.Netdev}, nil); derr != nil {
			log.Warn("netdev_del after a failed device_add", zap.Error(derr))
		}
		return fail(err)
	}
	log.Info("NIC hot-added", zap.String("portgroup", pg), zap.String("netdev", netdev))
	return r
}

// unplug starts n's hot-removal: device_del, whose end (the guest's
// eject) reapNICs sees.
func (h *QEMUHost) unplug(ctx context.Context, g *guest, n *runNIC, log *zap.Logger) {
	n.Removing = time.Now()
	if n.Broken {
		return
	}
	log = log.With(zap.String("mac", n.MAC), zap.String("netdev", n.Netdev))
	cctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	n.Path = n.Device
	if n.Path == "" {
		p, err := bootNICPath(cctx, g.qmp, n.MAC)
		if err != nil {
			log.Error("NIC removed from the running VM: its device not found in QEMU", zap.Error(err))
			h.netdevDel(cctx, g, n, log)
			return
		}
		n.Path = p
	}
	if err := g.qmp.Execute(cctx, "device_del", map[string]string{"id": n.Path}, nil); err != nil {
		log.Error("NIC removed from the running VM, not hot-removed from its QEMU", zap.String("device", n.Path), zap.Error(err))
		h.netdevDel(cctx, g, n, log)
		return
	}
	log.Info("NIC hot-removal asked of the guest", zap.String("device", n.Path))
}

// reapNICs finishes the removals the guest acknowledged (DEVICE_DELETED)
// and the ones it left unanswered for ejectWait.
func (h *QEMUHost) reapNICs(ctx context.Context, g *guest, log *zap.Logger) {
	cctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	for done := false; !done; {
		select {
		case ev := <-g.deleted:
			var d struct {
				Device string `json:"device"`
				Path   string `json:"path"`
			}
			_ = json.Unmarshal(ev.Data, &d)
			for i := range g.nics {
				n := &g.nics[i]
				if !n.Removing.IsZero() && n.Netdev != "" && n.Path != "" && (n.Path == d.Device || n.Path == d.Path) {
					log.Info("NIC hot-removed", zap.String("mac", n.MAC), zap.String("device", n.Path))
					h.netdevDel(cctx, g, n, log)
				}
			}
		default:
			done = true
		}
	}
	for i := range g.nics {
		n := &g.nics[i]
		if !n.Removing.IsZero() && n.Netdev != "" && time.Since(n.Removing) > ejectWait {
			log.Warn("the guest did not release a hot-removed NIC: its network removed, the device left", zap.String("mac", n.MAC),
				zap.String("device", n.Path), zap.Duration("waited", ejectWait))
			h.netdevDel(cctx, g, n, log)
		}
	}
	g.nics = dropGone(g.nics)
}

// netdevDel deletes n's netdev; n is then gone (Netdev "").
func (h *QEMUHost) netdevDel(ctx context.Context, g *guest, n *runNIC, log *zap.Logger) {
	if err := g.qmp.Execute(ctx, "netdev_del", map[string]string{"id": n.Netdev}, nil); err != nil {
		log.Warn("netdev_del of a removed NIC", zap.String("netdev", n.Netdev), zap.Error(err))
	}
	n.Netdev = ""
}

// bootNICPath is the QOM path of the vmxnet3 device of the command line
// (no id: under /machine/peripheral-anon) whose MAC is mac.
func bootNICPath(ctx context.Context, q *qmpClient, mac string) (string, error) {
	const anon = "/machine/peripheral-anon"
	var props []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := q.Execute(ctx, "qom-list", map[string]string{"path": anon}, &props); err != nil {
		return "", err
	}
	for _, p := range props {
		if p.Type != "child<vmxnet3>" {
			continue
		}
		path := anon + "/" + p.Name
		var m string
		if err := q.Execute(ctx, "qom-get", map[string]string{"path": path, "property": "mac"}, &m); err != nil {
			return "", err
		}
		if strings.EqualFold(m, mac) {
			return path, nil
		}
	}
	return "", fmt.Errorf("no vmxnet3 device with MAC %s under %s", mac, anon)
}
