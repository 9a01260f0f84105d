package vsnetwork

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
)

// The endpoint VM's legs on user-defined networks. Each user-defined
// network is a port group of its own; its gateway is a NIC of the
// endpoint VM on that port group, so that its containers reach the
// published ports' forwarders, the network's DNS (served on the gateway)
// and, through the endpoint's NAT, the outside. vchd runs in the endpoint
// VM, so this provider adds that NIC to its own VM (a hot-add) when the
// network is made, asks Legs to give it the gateway address in the guest,
// and undoes both before the port group is destroyed. The default bridge
// network's leg is the appliance's (it exists before vchd starts).

// Legs configures NICs of the VM vchd runs in. It is declared here, its
// consumer; cmd/vchd gives the appliance's implementation.
type Legs interface {
	// Up gives the NIC whose MAC is mac (which may take a moment to
	// appear after its hot-add) the address addr and brings it up.
	Up(ctx context.Context, mac string, addr netip.Prefix) error
	// Down takes the NIC's addresses off, before its hot-remove.
	Down(ctx context.Context, mac string) error
}

// legMAC is a candidate MAC for the endpoint's NIC on a user-defined
// network: VMware's static range (00:50:56:00:00:00-00:50:56:3f:ff:ff),
// from the VCH's name, the network's ID and try (0 first; the next try
// when the MAC is already one of the endpoint's).
func legMAC(vch, networkID string, try int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("vch leg\x00%s\x00%s\x00%d", vch, networkID, try)))
	return fmt.Sprintf("00:50:56:%02x:%02x:%02x", sum[0]&0x3f, sum[1], sum[2])
}

// freeLegMAC is the first candidate MAC no NIC of the endpoint has.
func freeLegMAC(devices object.VirtualDeviceList, vch, networkID string) (string, error) {
	taken := map[string]bool{}
	for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		if c, ok := d.(types.BaseVirtualEthernetCard); ok {
			taken[strings.ToLower(c.GetVirtualEthernetCard().MacAddress)] = true
		}
	}
	for try := 0; try < 64; try++ {
		if mac := legMAC(vch, networkID, try); !taken[mac] {
			return mac, nil
		}
	}
	return "", fmt.Errorf("no free MAC for the endpoint's leg on network %s", networkID)
}

// endpointVM is the VM vchd runs in.
func (p *Provider) endpointVM(ctx context.Context) (*object.VirtualMachine, error) {
	vm, err := p.s.Finder.VirtualMachine(ctx, p.cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("the endpoint VM %q: %w", p.cfg.Endpoint, vsession.Classify(err))
	}
	return vm, nil
}

// legCard finds the endpoint VM's NIC on the distributed port group
// whose key is pgKey, and its MAC (nil: none). A network's leg is the
// endpoint's one NIC on the network's port group.
func legCard(devices object.VirtualDeviceList, pgKey string) (types.BaseVirtualDevice, string) {
	for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		c, ok := d.(types.BaseVirtualEthernetCard)
		if !ok {
			continue
		}
		card := c.GetVirtualEthernetCard()
		if b, ok := card.Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); ok && b.Port.PortgroupKey == pgKey {
			return d, strings.ToLower(card.MacAddress)
		}
	}
	return nil, ""
}

// endpointDevices is the endpoint VM and its devices.
func (p *Provider) endpointDevices(ctx context.Context) (*object.VirtualMachine, object.VirtualDeviceList, error) {
	vm, err := p.endpointVM(ctx)
	if err != nil {
		return nil, nil, err
	}
	devices, err := vm.Device(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("the endpoint VM's devices: %w", vsession.Classify(err))
	}
	return vm, devices, nil
}

// addLeg gives the endpoint VM its NIC on n's port group, unless it has
// it, and the gateway address in the guest. Nothing happens without an
// endpoint (a vchd that runs elsewhere).
func (p *Provider) addLeg(ctx context.Context, n network.Network) error {
	if p.cfg.Endpoint == "" || !n.UserDefined || n.Container {
		return nil
	}
	vm, devices, err := p.endpointDevices(ctx)
	if err != nil {
		return err
	}
	ref, err := p.portGroup(ctx, n.Bridge)
	if err != nil {
		return err
	}
	dev, mac := legCard(devices, ref.Reference().Value)
	if dev == nil {
		if mac, err = freeLegMAC(devices, p.cfg.VCH, n.ID); err != nil {
			return err
		}
		backing, err := ref.EthernetCardBackingInfo(ctx)
		if err != nil {
			return fmt.Errorf("port group %q: %w", n.Bridge, vsession.Classify(err))
		}
		dev, err := object.VirtualDeviceList{}.CreateEthernetCard("vmxnet3", backing)
		if err != nil {
			return err
		}
		card := dev.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
		card.MacAddress = mac
		if err := p.reconfigureEndpoint(ctx, vm, dev, types.VirtualDeviceConfigSpecOperationAdd); err != nil {
			return fmt.Errorf("the endpoint's NIC on %s: %w", n.Bridge, err)
		}
	}
	if p.cfg.Legs != nil {
		addr := netip.PrefixFrom(n.Gateway, n.Subnet.Bits())
		if err := p.cfg.Legs.Up(ctx, mac, addr); err != nil {
			return fmt.Errorf("the endpoint's leg on network %s: %w", n.Name, err)
		}
	}
	p.log.Info("endpoint leg up", zap.String("network", n.Name), zap.String("portgroup", n.Bridge), zap.String("mac", mac), zap.Stringer("gateway", n.Gateway))
	return nil
}

// removeLeg takes the leg's address off and removes the endpoint VM's
// NIC on n's port group (so the port group can be destroyed). A NIC or
// port group already gone is fine.
func (p *Provider) removeLeg(ctx context.Context, n network.Network) error {
	if p.cfg.Endpoint == "" || !n.UserDefined || n.Container {
		return nil
	}
	vm, devices, err := p.endpointDevices(ctx)
	if err != nil {
		return err
	}
	ref, err := p.portGroup(ctx, n.Bridge)
	if errdefs.IsNotFound(err) {
		return nil // no port group, so no NIC on it
	}
	if err != nil {
		return err
	}
	dev, mac := legCard(devices, ref.Reference().Value)
	if dev == nil {
		return nil
	}
	if p.cfg.Legs != nil {
		if err := p.cfg.Legs.Down(ctx, mac); err != nil {
			p.log.Warn("take the endpoint's leg down", zap.String("network", n.Name), zap.Error(err))
		}
	}
	if err := p.reconfigureEndpoint(ctx, vm, dev, types.VirtualDeviceConfigSpecOperationRemove); err != nil {
		return fmt.Errorf("remove the endpoint's NIC on %s: %w", n.Bridge, err)
	}
	return nil
}

func (p *Provider) reconfigureEndpoint(ctx context.Context, vm *object.VirtualMachine, dev types.BaseVirtualDevice, op types.VirtualDeviceConfigSpecOperation) error {
	change, err := object.VirtualDeviceList{dev}.ConfigSpec(op)
	if err != nil {
		return err
	}
	task, err := vm.Reconfigure(context.WithoutCancel(ctx), types.VirtualMachineConfigSpec{DeviceChange: change})
	if err != nil {
		return vsession.Classify(err)
	}
	return p.s.Wait(context.WithoutCancel(ctx), "reconfigure the endpoint VM", task)
}
