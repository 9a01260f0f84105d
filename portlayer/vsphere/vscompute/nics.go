package vscompute

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/tether/proto"
)

// KeyNICs holds base64url(JSON []compute.NIC): the guest side of the NICs
// of the current run (address, gateway, DNS by MAC), for the tether,
// which reads it with proto.ParseGuestNICs.
const KeyNICs = proto.GuestinfoNICs

// portGroup is the port group a NIC is connected to: the VCH's mapping
// of the port layer's network name, else the network's host-side name.
func (p *Provider) portGroup(nic compute.NIC) string {
	if pg, ok := p.cfg.PortGroups[nic.Network]; ok {
		return pg
	}
	return nic.Bridge
}

// nicChanges replaces the VM's vmxnet3 NICs with one per nic, each on its
// port group with the port layer's MAC (manual address).
func (p *Provider) nicChanges(ctx context.Context, c *vm, nics []compute.NIC) ([]types.BaseVirtualDeviceConfigSpec, error) {
	devs, err := object.NewVirtualMachine(p.s.Client, c.ref).Device(ctx)
	if err != nil {
		return nil, fmt.Errorf("container %s: devices: %w", c.spec.ID, vsession.Classify(err))
	}
	old := devs.SelectByType((*types.VirtualVmxnet3)(nil))
	changes, err := old.ConfigSpec(types.VirtualDeviceConfigSpecOperationRemove)
	if err != nil {
		return nil, err
	}
	var added object.VirtualDeviceList
	for _, nic := range nics {
		dev, err := p.ethernetCard(ctx, c, nic)
		if err != nil {
			return nil, err
		}
		dev.GetVirtualDevice().Key = added.NewKey() // distinct temporary keys
		added = append(added, dev)
	}
	add, err := added.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return nil, err
	}
	return append(changes, add...), nil
}

// ethernetCard is a vmxnet3 NIC on nic's port group with nic's MAC
// (manual address).
func (p *Provider) ethernetCard(ctx context.Context, c *vm, nic compute.NIC) (types.BaseVirtualDevice, error) {
	pg := p.portGroup(nic)
	ref, err := p.s.Finder.Network(ctx, pg)
	if err != nil {
		return nil, fmt.Errorf("container %s: network %s: port group %q: %w", c.spec.ID, nic.Network, pg, vsession.Classify(err))
	}
	backing, err := ref.EthernetCardBackingInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("container %s: port group %q: %w", c.spec.ID, pg, vsession.Classify(err))
	}
	dev, err := object.VirtualDeviceList{}.CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return nil, err
	}
	card := dev.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
	card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
	card.MacAddress = nic.MAC
	return dev, nil
}

// detach tells networking that the run ended; it logs what fails (the
// endpoint's leases are then released at the next detach).
func (p *Provider) detach(ctx context.Context, id string) {
	if p.cfg.Network == nil {
		return
	}
	if err := p.cfg.Network.Detach(context.WithoutCancel(ctx), id); err != nil {
		p.log.Warn("network detach", zap.String("id", id), zap.Error(err))
	}
}
