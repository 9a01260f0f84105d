package qemu

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// detachTimeout bounds the network's handling of one VM exit.
const detachTimeout = 30 * time.Second

// stepNetwork asks the network for the VM's NICs and makes one tap per NIC
// on the NIC's bridge. The taps are not persistent: QEMU inherits their
// file descriptors, and they disappear when QEMU exits.
func stepNetwork(ctx context.Context, b *Boot) error {
	na := b.p.cfg.Network
	if na == nil {
		return nil
	}
	nics, err := na.Attach(ctx, b.v.id)
	if err != nil {
		return fmt.Errorf("container %s: network: %w", b.v.id, err)
	}
	b.PushUndo(func() error {
		dctx, cancel := context.WithTimeout(context.Background(), detachTimeout)
		defer cancel()
		return na.Detach(dctx, b.v.id)
	})
	b.nics = nics
	b.PushUndo(func() error { b.closeTaps(); return nil })
	if len(nics) > compute.MaxNICs {
		return errdefs.InvalidParameter(fmt.Sprintf("container %s: %d networks, a VM has at most %d NICs", b.v.id, len(nics), compute.MaxNICs))
	}
	for i, n := range nics {
		f, err := openTap(tapName(b.v.id, i), n.Bridge)
		if err != nil {
			return fmt.Errorf("container %s: NIC %d on %s: %w", b.v.id, i, n.Bridge, err)
		}
		b.taps = append(b.taps, f)
	}
	if len(nics) == 0 {
		return nil // --network none: nothing to connect later
	}
	// Spare NICs, parked on no bridge, for network connect while running.
	for i := len(nics); i < compute.MaxNICs; i++ {
		f, err := openTap(tapName(b.v.id, i), "")
		if err != nil {
			return fmt.Errorf("container %s: spare NIC %d: %w", b.v.id, i, err)
		}
		b.taps = append(b.taps, f)
		b.spares = append(b.spares, compute.NIC{MAC: spareMAC(b.v.id, i)})
	}
	return nil
}

// spareMAC is the MAC of a VM's i-th NIC while it is a spare (02:43, three
// bytes of the container ID, the index): PlugNIC and UnplugNIC find the
// tap from it.
func spareMAC(id string, i int) string {
	return fmt.Sprintf("02:43:%s:%s:%s:%02x", id[0:2], id[2:4], id[4:6], i)
}

// PlugNIC connects a free spare NIC of running VM id: configure gives the
// endpoint for the spare's MAC, the spare's tap joins its bridge and the
// tether configures the address.
func (p *Provider) PlugNIC(ctx context.Context, id string, configure func(mac string) (compute.NIC, error)) error {
	if _, err := p.running(id); err != nil {
		return err
	}
	if p.isPaused(id) {
		return pausedError(id)
	}
	p.plugMu.Lock()
	defer p.plugMu.Unlock()
	i, tap, err := freeSpare(id)
	if err != nil {
		return err
	}
	mac := spareMAC(id, i)
	nic, err := configure(mac)
	if err != nil {
		return err
	}
	br, err := netlink.LinkByName(nic.Bridge)
	if err != nil {
		return fmt.Errorf("container %s: bridge %s: %w", id, nic.Bridge, err)
	}
	if err := netlink.LinkSetMaster(tap, br); err != nil {
		return fmt.Errorf("container %s: connect spare NIC %d: %w", id, i, err)
	}
	gi := guestInterfaces([]compute.NIC{nic})[0]
	gi.MAC, gi.Gateway, gi.Gateway6 = mac, "", ""
	if err := p.request(ctx, id, proto.ReqNIC, proto.NICRequest{Interface: gi, Up: true}); err != nil {
		_ = netlink.LinkSetNoMaster(tap)
		return err
	}
	return nil
}

// UnplugNIC parks the spare NIC with mac again: the tether removes its
// addresses, its tap leaves the bridge.
func (p *Provider) UnplugNIC(ctx context.Context, id, mac string) error {
	i := -1
	for j := 0; j < compute.MaxNICs; j++ {
		if spareMAC(id, j) == mac {
			i = j
		}
	}
	if i < 0 {
		return errdefs.InvalidParameter(fmt.Sprintf("container %s: %s is not a NIC that can be disconnected while running", id, mac))
	}
	if _, err := p.running(id); err != nil {
		return err
	}
	if p.isPaused(id) {
		return pausedError(id)
	}
	p.plugMu.Lock()
	defer p.plugMu.Unlock()
	if err := p.request(ctx, id, proto.ReqNIC, proto.NICRequest{Interface: proto.Interface{MAC: mac}}); err != nil {
		return err
	}
	tap, err := netlink.LinkByName(tapName(id, i))
	if err != nil {
		return fmt.Errorf("container %s: spare NIC %d: %w", id, i, err)
	}
	return netlink.LinkSetNoMaster(tap)
}

// freeSpare finds a tap of the VM that is on no bridge.
func freeSpare(id string) (int, netlink.Link, error) {
	for i := 0; i < compute.MaxNICs; i++ {
		l, err := netlink.LinkByName(tapName(id, i))
		if err != nil {
			continue
		}
		if l.Attrs().MasterIndex == 0 {
			return i, l, nil
		}
	}
	return 0, nil, errdefs.Conflict(fmt.Sprintf("container %s has no spare NIC left: a container VM can be on at most %d networks", id, compute.MaxNICs))
}

// closeTaps closes vchd's copies of the tap fds.
func (b *Boot) closeTaps() {
	for _, f := range b.taps {
		f.Close()
	}
	b.taps = nil
}

// tapName is the host name of a VM's i-th tap: at most 15 bytes, unique
// per container.
func tapName(id string, i int) string {
	return fmt.Sprintf("vt%s%d", id[:11], i)
}

// openTap creates a non-persistent tap on bridge ("": on none) and returns
// its fd.
func openTap(name, bridge string) (*os.File, error) {
	var br netlink.Link
	if bridge != "" {
		var err error
		if br, err = netlink.LinkByName(bridge); err != nil {
			return nil, fmt.Errorf("bridge %s: %w", bridge, err)
		}
	}
	if old, err := netlink.LinkByName(name); err == nil {
		// Left by a QEMU that is still going away, or a crash: replace it.
		_ = netlink.LinkDel(old)
	}
	tap := &netlink.Tuntap{
		LinkAttrs:  netlink.LinkAttrs{Name: name},
		Mode:       netlink.TUNTAP_MODE_TAP,
		Flags:      netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_ONE_QUEUE,
		NonPersist: true,
		Queues:     1,
	}
	if err := netlink.LinkAdd(tap); err != nil {
		return nil, fmt.Errorf("create tap %s: %w", name, err)
	}
	if len(tap.Fds) != 1 {
		return nil, fmt.Errorf("tap %s: got %d fds", name, len(tap.Fds))
	}
	f := tap.Fds[0]
	link, err := netlink.LinkByName(name)
	if err == nil && br != nil {
		err = netlink.LinkSetMaster(link, br)
	}
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tap %s: %w", name, err)
	}
	return f, nil
}

// guestInterfaces turns NICs into the tether's config.
func guestInterfaces(nics []compute.NIC) []proto.Interface {
	var out []proto.Interface
	for _, n := range nics {
		gi := proto.Interface{MAC: n.MAC, MTU: n.MTU}
		if n.Address.IsValid() {
			gi.Address = n.Address.String()
		}
		if n.Gateway.IsValid() {
			gi.Gateway = n.Gateway.String()
		}
		if n.Address6.IsValid() {
			gi.Address6 = n.Address6.String()
		}
		if n.Gateway6.IsValid() {
			gi.Gateway6 = n.Gateway6.String()
		}
		out = append(out, gi)
	}
	return out
}

// detachNetwork tells the network that a run of id ended.
func (p *Provider) detachNetwork(id string) {
	if p.cfg.Network == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), detachTimeout)
	defer cancel()
	if err := p.cfg.Network.Detach(ctx, id); err != nil {
		p.log.Warn("network detach after VM exit", zap.String("id", id), zap.Error(err))
	}
}

// selfHostEntry maps the container's hostname to its first NIC's address
// in /etc/hosts, as docker does.
func selfHostEntry(nics []compute.NIC, hostname, domain string) (proto.HostEntry, bool) {
	if len(nics) == 0 || !nics[0].Address.IsValid() || hostname == "" {
		return proto.HostEntry{}, false
	}
	names := []string{hostname}
	if domain != "" {
		names = []string{hostname + "." + domain, hostname}
	}
	return proto.HostEntry{IP: nics[0].Address.Addr().String(), Names: names}, true
}

// nameServers is the guest's resolv.conf servers: those its networks
// offer (the embedded DNS of user-defined networks, which forwards to the
// container's --dns), once each; else the container's own (--dns).
func nameServers(own []string, nics []compute.NIC) []string {
	var out []string
	for _, n := range nics {
		for _, a := range n.DNS {
			if s := a.String(); !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 {
		return own
	}
	return out
}

var _ compute.NICPlugger = (*Provider)(nil)
