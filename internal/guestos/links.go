package guestos

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// RetryDump runs a netlink dump again while the kernel reports it
// interrupted (the set changed meanwhile), up to ten times.
func RetryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for i := 0; i < 10; i++ {
		var out []T
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

// LinkByMAC returns the link with that hardware address, or nil.
func LinkByMAC(mac net.HardwareAddr) (netlink.Link, error) {
	links, err := RetryDump(netlink.LinkList)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if strings.EqualFold(l.Attrs().HardwareAddr.String(), mac.String()) {
			return l, nil
		}
	}
	return nil, nil
}

// WaitLink waits up to timeout for the link with that MAC (a NIC whose
// driver is still probing it, or one hot-added a moment ago).
func WaitLink(mac net.HardwareAddr, timeout time.Duration) (netlink.Link, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := LinkByMAC(mac)
		if err != nil || l != nil {
			return l, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no NIC with MAC %s appeared within %s", mac, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AddrUp waits up to timeout for the NIC with MAC mac, gives it addr
// (replacing an equal one) and brings it up.
func AddrUp(mac string, addr netip.Prefix, timeout time.Duration) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return err
	}
	link, err := WaitLink(hw, timeout)
	if err != nil {
		return err
	}
	ip := &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), addr.Addr().BitLen())}
	if err := netlink.AddrReplace(link, &netlink.Addr{IPNet: ip}); err != nil {
		return fmt.Errorf("%s: address %s: %w", link.Attrs().Name, addr, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("%s: up: %w", link.Attrs().Name, err)
	}
	return nil
}

// AddrsDown takes the IPv4 and IPv6 addresses off the NIC with MAC mac
// and sets it down; a NIC that is not there is no error.
func AddrsDown(mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return err
	}
	link, err := LinkByMAC(hw)
	if err != nil || link == nil {
		return err
	}
	addrs, err := RetryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("%s: addresses: %w", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		if a.IP.IsLinkLocalUnicast() {
			continue
		}
		if err := netlink.AddrDel(link, &a); err != nil {
			return fmt.Errorf("%s: remove %s: %w", link.Attrs().Name, a.IPNet, err)
		}
	}
	if err := netlink.LinkSetDown(link); err != nil {
		return fmt.Errorf("%s: down: %w", link.Attrs().Name, err)
	}
	return nil
}
