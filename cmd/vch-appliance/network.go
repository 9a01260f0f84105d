package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/guestos"
	"github.com/vchproject/vch/internal/vice"
)

// nicTimeout is how long a NIC may take to appear after its driver loads.
const nicTimeout = 30 * time.Second

// setupNetwork brings lo and the endpoint's NICs up: each found by its
// MAC, with its static address and routes, or a DHCP lease (renewed in
// the background until ctx ends). It returns each network's address and
// the DNS servers (the config's, else those DHCP gave).
func setupNetwork(ctx context.Context, c *vice.Config, log *zap.Logger) (lease, error) {
	l := lease{addrs: map[string]netip.Addr{}}
	plans, err := planNICs(c)
	if err != nil {
		return l, err
	}
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return l, fmt.Errorf("network: lo: %w", err)
	}
	var dhcpDNS []netip.Addr
	for _, p := range plans {
		link, err := guestos.WaitLink(p.mac, nicTimeout)
		if err != nil {
			return l, fmt.Errorf("network %s: %w", strings.Join(p.networks, ", "), err)
		}
		if err := netlink.LinkSetUp(link); err != nil {
			return l, fmt.Errorf("network %s: up: %w", strings.Join(p.networks, ", "), err)
		}
		dhcp := p.dhcp()
		if dhcp {
			got, dns, err := dhcpLease(ctx, link, log)
			if err != nil {
				return l, fmt.Errorf("network %s: DHCP on %s: %w", strings.Join(p.networks, ", "), link.Attrs().Name, err)
			}
			p.addr, p.routes = got.addr, append(got.routes, p.routes...)
			dhcpDNS = append(dhcpDNS, dns...)
		} else if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(p.addr)}); err != nil {
			return l, fmt.Errorf("network %s: address %s: %w", strings.Join(p.networks, ", "), p.addr, err)
		}
		for _, r := range p.routes {
			rt := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: r.gw.AsSlice()}
			if r.dst.IsValid() {
				rt.Dst = ipNet(r.dst)
			}
			if err := netlink.RouteAdd(rt); err != nil && !errors.Is(err, os.ErrExist) {
				return l, fmt.Errorf("network %s: route %v via %s: %w", strings.Join(p.networks, ", "), r.dst, r.gw, err)
			}
		}
		for _, n := range p.networks {
			l.addrs[n] = p.addr.Addr()
		}
		log.Info("network up", zap.Strings("networks", p.networks), zap.String("nic", link.Attrs().Name), zap.String("mac", p.mac.String()),
			zap.String("address", p.addr.String()), zap.Bool("dhcp", dhcp))
	}
	for _, d := range c.Network.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return l, fmt.Errorf("network: DNS server %q: %w", d, err)
		}
		l.dns = append(l.dns, a)
	}
	if len(l.dns) == 0 {
		l.dns = dhcpDNS
	}
	return l, nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// dhcpResult is an address and routes from a lease.
type dhcpResult struct {
	addr   netip.Prefix
	routes []route
}

// dhcpLease gets a lease on link, puts its address on the link, and
// renews it in the background (halfway through the lease) until ctx ends.
func dhcpLease(ctx context.Context, link netlink.Link, log *zap.Logger) (dhcpResult, []netip.Addr, error) {
	client, err := nclient4.New(link.Attrs().Name, nclient4.WithTimeout(5*time.Second), nclient4.WithRetry(6))
	if err != nil {
		return dhcpResult{}, nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	ls, err := client.Request(rctx)
	cancel()
	if err != nil {
		client.Close()
		return dhcpResult{}, nil, err
	}
	res, dns, err := fromACK(ls.ACK)
	if err != nil {
		client.Close()
		return dhcpResult{}, nil, err
	}
	addr := &netlink.Addr{IPNet: ipNet(res.addr)}
	if err := netlink.AddrAdd(link, addr); err != nil {
		client.Close()
		return dhcpResult{}, nil, fmt.Errorf("address %s: %w", res.addr, err)
	}
	go renew(ctx, client, ls, log)
	return res, dns, nil
}

// fromACK reads the address, router and DNS servers of a DHCP ACK.
func fromACK(ack *dhcpv4.DHCPv4) (dhcpResult, []netip.Addr, error) {
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	mask := ack.SubnetMask()
	if !ok || mask == nil {
		return dhcpResult{}, nil, fmt.Errorf("the lease has no address or mask (%s)", ack.Summary())
	}
	ones, _ := mask.Size()
	res := dhcpResult{addr: netip.PrefixFrom(ip, ones)}
	if routers := ack.Router(); len(routers) > 0 {
		if gw, ok := netip.AddrFromSlice(routers[0].To4()); ok {
			res.routes = append(res.routes, route{gw: gw})
		}
	}
	var dns []netip.Addr
	for _, d := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(d.To4()); ok {
			dns = append(dns, a)
		}
	}
	return res, dns, nil
}

// renew renews the lease halfway through each lease time; the address
// stays the same (a changed one is logged: vchd's certificates and the
// container VMs' serial address name the old one).
func renew(ctx context.Context, client *nclient4.Client, ls *nclient4.Lease, log *zap.Logger) {
	defer client.Close()
	for {
		t := ls.ACK.IPAddressLeaseTime(time.Hour) / 2
		if t < 10*time.Second {
			t = 10 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(t):
		}
		next, err := client.Renew(ctx, ls)
		if err != nil {
			log.Error("DHCP renew", zap.Error(err))
			continue
		}
		if !next.ACK.YourIPAddr.Equal(ls.ACK.YourIPAddr) {
			log.Error("DHCP gave another address: the VCH keeps serving on the old one", zap.Stringer("old", ls.ACK.YourIPAddr), zap.Stringer("new", next.ACK.YourIPAddr))
		}
		ls = next
	}
}
