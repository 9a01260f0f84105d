package tether

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/internal/guestos"
	"github.com/vchproject/vch/tether/proto"
)

// setupNetwork brings lo up and configures every NIC of the config: it
// waits for the link with the NIC's MAC, sets its MTU and address, brings it
// up and adds the default route through the gateway.
func setupNetwork(ifs []proto.Interface, log *zap.Logger) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("network: lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("network: lo up: %w", err)
	}
	// Announce each address as its NIC comes up (a gratuitous ARP): the
	// host's pending neighbour entry resolves at once, so a connection
	// to a published port made during boot is not held back until the
	// host's next ARP probe.
	if len(ifs) > 0 {
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/all/arp_notify", []byte("1\n"), 0o644); err != nil {
			log.Debug("arp_notify", zap.Error(err))
		}
	}
	for _, nic := range ifs {
		if err := setupNIC(nic, log); err != nil {
			return fmt.Errorf("network: NIC %s: %w", nic.MAC, err)
		}
	}
	return nil
}

func setupNIC(nic proto.Interface, log *zap.Logger) error {
	mac, err := net.ParseMAC(nic.MAC)
	if err != nil {
		return err
	}
	var link netlink.Link
	deadline := time.Now().Add(deviceTimeout)
	for {
		link, err = guestos.LinkByMAC(mac)
		if err != nil {
			return err
		}
		if link != nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no link appeared within %s", deviceTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if nic.MTU > 0 {
		if err := netlink.LinkSetMTU(link, nic.MTU); err != nil {
			return fmt.Errorf("mtu %d: %w", nic.MTU, err)
		}
	}
	if nic.Address != "" {
		addr, err := netlink.ParseAddr(nic.Address)
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("address %s: %w", nic.Address, err)
		}
	}
	if nic.Address6 != "" {
		addr, err := netlink.ParseAddr(nic.Address6)
		if err != nil {
			return err
		}
		addr.Flags |= unix.IFA_F_NODAD // the address is ours alone (IPAM): usable at once
		if err := netlink.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("address %s: %w", nic.Address6, err)
		}
	}
	// The network's firewall holds before the first packet.
	if err := firewall.set(link.Attrs().Name, nic.Firewall, log); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if nic.Gateway6 != "" {
		gw := net.ParseIP(nic.Gateway6)
		if gw == nil {
			return fmt.Errorf("bad IPv6 gateway %q", nic.Gateway6)
		}
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw}); err != nil {
			return fmt.Errorf("IPv6 default route via %s: %w", gw, err)
		}
	}
	if nic.Gateway != "" {
		gw := net.ParseIP(nic.Gateway)
		if gw == nil {
			return fmt.Errorf("bad gateway %q", nic.Gateway)
		}
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw}); err != nil {
			return fmt.Errorf("default route via %s: %w", gw, err)
		}
	}
	log.Debug("NIC configured", zap.String("name", link.Attrs().Name), zap.String("mac", nic.MAC),
		zap.String("address", nic.Address), zap.String("gateway", nic.Gateway))
	return nil
}

// configureNIC answers proto.ReqNIC: a spare NIC (present since boot) gets
// an address and comes up, or loses its addresses and goes down.
func configureNIC(r proto.NICRequest, log *zap.Logger) error {
	nic := r.Interface
	nic.Gateway, nic.Gateway6 = "", "" // the first network keeps the default routes
	if r.Up {
		return setupNIC(nic, log)
	}
	mac, err := net.ParseMAC(nic.MAC)
	if err != nil {
		return err
	}
	link, err := guestos.LinkByMAC(mac)
	if err != nil {
		return err
	}
	if link == nil {
		return fmt.Errorf("no NIC with MAC %s", nic.MAC)
	}
	addrs, err := guestos.RetryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := netlink.AddrDel(link, &a); err != nil {
			return fmt.Errorf("NIC %s: remove %s: %w", nic.MAC, a.IPNet, err)
		}
	}
	if err := netlink.LinkSetDown(link); err != nil {
		return fmt.Errorf("NIC %s down: %w", nic.MAC, err)
	}
	if err := firewall.set(link.Attrs().Name, nil, log); err != nil {
		return err
	}
	log.Debug("NIC parked", zap.String("name", link.Attrs().Name), zap.String("mac", nic.MAC))
	return nil
}
