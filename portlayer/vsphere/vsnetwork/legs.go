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

// legMAC is the endpoint NIC's MAC on a user-defined network: VMware's
// static range (00:50:56:00:00:00-00:50:56:3f:ff:ff), from the VCH's name
// and the network's ID.
func legMAC(vch, networkID string) string {
	sum := sha256.Sum256([]byte("vch leg\x00" + vch + "\x00" + networkID))
	return fmt.Sprintf("00:50:56:%02x:%02x:%02x", sum[0]&0x3f, sum[1], sum[2])
}

// endpointVM is the VM vchd runs in.
func (p *Provider) endpointVM(ctx context.Context) (*object.VirtualMachine, error) {
	vm, err := p.s.Finder.VirtualMachine(ctx, p.cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("the endpoint VM %q: %w", p.cfg.Endpoint, vsession.Classify(err))
	}
	return vm, nil
}

// legCard finds the endpoint VM's NIC with mac (nil: none).
func legCard(devices object.VirtualDeviceList, mac string) types.BaseVirtualDevice {
	for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		if c, ok := d.(types.BaseVirtualEthernetCard); ok && strings.EqualFold(c.GetVirtualEthernetCard().MacAddress, mac) {
			return d
		}
	}
	return nil
}

// addLeg gives the endpoint VM its NIC on n's port group, unless it has
// it, and the gateway address in the guest. Nothing happens without an
// endpoint (a vchd that runs elsewhere). Call with p.mu held.
func (p *Provider) addLeg(ctx context.Context, n network.Network) error {
	if p.cfg.Endpoint == "" || !n.UserDefined || n.Container {
		return nil
	}
	vm, err := p.endpointVM(ctx)
	if err != nil {
		return err
	}
	mac := legMAC(p.cfg.VCH, n.ID)
	devices, err := vm.Device(ctx)
	if err != nil {
		return fmt.Errorf("the endpoint VM's devices: %w", vsession.Classify(err))
	}
	if legCard(devices, mac) == nil {
		ref, err := p.portGroup(ctx, n.Bridge)
		if err != nil {
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
// NIC on n's port group (so the port group can be destroyed). A NIC
// already gone is fine. Call with p.mu held.
func (p *Provider) removeLeg(ctx context.Context, n network.Network) error {
	if p.cfg.Endpoint == "" || !n.UserDefined || n.Container {
		return nil
	}
	mac := legMAC(p.cfg.VCH, n.ID)
	if p.cfg.Legs != nil {
		if err := p.cfg.Legs.Down(ctx, mac); err != nil {
			p.log.Warn("take the endpoint's leg down", zap.String("network", n.Name), zap.Error(err))
		}
	}
	vm, err := p.endpointVM(ctx)
	if err != nil {
		return err
	}
	devices, err := vm.Device(ctx)
	if err != nil {
		return fmt.Errorf("the endpoint VM's devices: %w", vsession.Classify(err))
	}
	dev := legCard(devices, mac)
	if dev == nil {
		return nil
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
