package vscompute

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/tether/proto"
)

// hotMAC is the MAC of the i-th NIC hot-added to container id's VM
// (network connect while running): 02:43, three bytes of the ID, i.
// Boot NICs have the network's MACs (02:42 + address), so the two never
// meet, and only hot-added NICs can be unplugged.
func hotMAC(id string, i int) string {
	return fmt.Sprintf("02:43:%s:%s:%s:%02x", id[0:2], id[2:4], id[4:6], i)
}

// PlugNIC hot-adds a vmxnet3 NIC (vSphere adds NICs to a running VM, so
// there are no spare NICs to park) on the port group of the network
// configure activates, and adds its guest side to guestinfo.vch.nics for
// the tether; one ReconfigVM does both. At most compute.MaxNICs NICs.
func (p *Provider) PlugNIC(ctx context.Context, id string, configure func(mac string) (compute.NIC, error)) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	if err := runningVM(c, id); err != nil {
		return err
	}
	if err := p.claim(id); err != nil {
		return err
	}
	defer p.release(id)
	var nics []compute.NIC
	if c.nics != "" {
		if err := decode(c.nics, &nics); err != nil {
			return fmt.Errorf("container %s: NICs record: %w", id, err)
		}
	}
	if len(nics) >= compute.MaxNICs {
		return errdefs.Conflict(fmt.Sprintf("container %s has no spare NIC left: a container VM can be on at most %d networks", id, compute.MaxNICs))
	}
	mac := ""
	for i := 1; i <= compute.MaxNICs && mac == ""; i++ {
		m := hotMAC(id, i)
		if !slices.ContainsFunc(nics, func(n compute.NIC) bool { return strings.EqualFold(n.MAC, m) }) {
			mac = m
		}
	}
	nic, err := configure(mac)
	if err != nil {
		return err
	}
	nic.MAC = mac
	dev, err := p.ethernetCard(ctx, c, nic)
	if err != nil {
		return err
	}
	add, err := object.VirtualDeviceList{dev}.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return err
	}
	val, err := encode(append(nics, nic))
	if err != nil {
		return err
	}
	if err := p.reconfigure(ctx, c, types.VirtualMachineConfigSpec{
		DeviceChange: add,
		ExtraConfig:  []types.BaseOptionValue{&types.OptionValue{Key: KeyNICs, Value: val}},
	}); err != nil {
		return err
	}
	return p.guestNIC(ctx, id, nic, true)
}

// guestNIC asks a booted VM's tether to configure the hot-added NIC (up)
// or to take its addresses off before it is removed (as the QEMU
// provider's spare NICs): the guest learns of a NIC only through this
// request, since its guestinfo is read once, at boot. A docker-backed
// simulator VM shares its host's network and has no NIC to configure; a
// provider without the serial concentrator has no tether to ask.
func (p *Provider) guestNIC(ctx context.Context, id string, nic compute.NIC, up bool) error {
	if len(p.cfg.Backing) > 0 || p.hub == nil {
		return nil
	}
	var gi proto.Interface
	if up {
		raw, err := encode([]compute.NIC{nic})
		if err != nil {
			return err
		}
		ifs, err := proto.ParseGuestNICs(raw)
		if err != nil {
			return fmt.Errorf("container %s: NIC %s: %w", id, nic.MAC, err)
		}
		gi = ifs[0]
		gi.Gateway, gi.Gateway6 = "", "" // the first network keeps the default routes
	} else {
		gi.MAC = nic.MAC
	}
	cl, err := p.control(ctx, id, "network connect")
	if err != nil {
		return err
	}
	if _, err := tetherlink.Request(cl, id, proto.ReqNIC, proto.NICRequest{Interface: gi, Up: up}); err != nil {
		return fmt.Errorf("container %s: NIC %s in the guest: %w", id, nic.MAC, err)
	}
	return nil
}

// UnplugNIC hot-removes the NIC with mac, which PlugNIC added
// (InvalidParameter for a NIC the VM booted with).
func (p *Provider) UnplugNIC(ctx context.Context, id, mac string) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	hot := false
	for i := 1; i <= compute.MaxNICs; i++ {
		hot = hot || strings.EqualFold(hotMAC(id, i), mac)
	}
	if !hot {
		return errdefs.InvalidParameter(fmt.Sprintf("container %s: %s is not a NIC that can be disconnected while running", id, mac))
	}
	if err := runningVM(c, id); err != nil {
		return err
	}
	if err := p.claim(id); err != nil {
		return err
	}
	defer p.release(id)
	devs, err := object.NewVirtualMachine(p.s.Client, c.ref).Device(ctx)
	if err != nil {
		return fmt.Errorf("container %s: devices: %w", id, vsession.Classify(err))
	}
	var gone object.VirtualDeviceList
	for _, d := range devs.SelectByType((*types.VirtualVmxnet3)(nil)) {
		if strings.EqualFold(d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().MacAddress, mac) {
			gone = append(gone, d)
		}
	}
	var nics []compute.NIC
	if c.nics != "" {
		if err := decode(c.nics, &nics); err != nil {
			return fmt.Errorf("container %s: NICs record: %w", id, err)
		}
	}
	nics = slices.DeleteFunc(nics, func(n compute.NIC) bool { return strings.EqualFold(n.MAC, mac) })
	val, err := encode(nics)
	if err != nil {
		return err
	}
	if err := p.guestNIC(ctx, id, compute.NIC{MAC: mac}, false); err != nil {
		return err
	}
	rm, err := gone.ConfigSpec(types.VirtualDeviceConfigSpecOperationRemove)
	if err != nil {
		return err
	}
	return p.reconfigure(ctx, c, types.VirtualMachineConfigSpec{
		DeviceChange: rm,
		ExtraConfig:  []types.BaseOptionValue{&types.OptionValue{Key: KeyNICs, Value: val}},
	})
}

// runningVM refuses a NIC change on a VM that is not powered on.
func runningVM(c *vm, id string) error {
	switch c.power {
	case types.VirtualMachinePowerStatePoweredOn:
		return nil
	case types.VirtualMachinePowerStateSuspended:
		return errdefs.Conflict(fmt.Sprintf("Container %s is paused, unpause the container before changing its networks", id))
	}
	return errdefs.Conflict(fmt.Sprintf("Container %s is not running", id))
}

var _ compute.NICPlugger = (*Provider)(nil)
