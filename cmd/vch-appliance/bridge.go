package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/internal/guestos"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/portlayer/network"
)

// The endpoint VM's leg on the bridge port group. Container VMs on the
// docker bridge network have a NIC on that port group with an address of
// the bridge subnet and its gateway as default route; the gateway is this
// NIC. The appliance gives it the gateway address (network.BridgeSubnet,
// as vchd's vsnetwork reckons it), turns on IPv4 forwarding and
// masquerades what the containers send out through the other NICs, so:
//
//   - published ports (vchd's forwarders) reach containers over the leg;
//   - the bridge network's DNS is served on the gateway (vsnetwork);
//   - containers reach the outside with the endpoint's address.
//
// The NAT is one nftables table of its own, ip vch-nat: a postrouting nat
// chain with "ip saddr RANGE oifname != LEG masquerade" for each RANGE,
// the configured bridge range and, if vchd carves user-defined networks
// from elsewhere, that range (network.UserNetworkRange); and a forward
// filter chain with "ip saddr RANGE ip daddr RANGE2 drop" for each pair,
// which keeps networks apart. The legs on user-defined networks are
// vchd's (vsnetwork hot-adds them to this VM as the networks are made).

// natTable is the appliance's nftables table (family ip).
const natTable = "vch-nat"

// legWait is how long the bridge NIC may take to appear. It is short: the
// vmxnet3 driver probed every NIC of the VM when its module loaded, so by
// the time the endpoint's NICs are up the bridge NIC is there or missing
// (a VM without one: the QEMU test boots of the appliance).
const legWait = 5 * time.Second

// ipForward is the IPv4 forwarding switch (of the caller's network
// namespace).
const ipForward = "/proc/sys/net/ipv4/ip_forward"

// legPlan is what the bridge leg gets.
type legPlan struct {
	mac  net.HardwareAddr
	addr netip.Prefix // the gateway with the subnet's length: 172.16.0.1/16
	// nats are the ranges masqueraded and kept apart: the bridge range
	// (172.16.0.0/12) and, when vchd takes user-defined networks from
	// elsewhere, that range too (network.UserNetworkRange).
	nats []netip.Prefix
}

// planLeg reads the bridge leg's MAC, address and NAT range from the
// config; ok is false when the config has no bridge MAC (vic-machines
// before it recorded one).
func planLeg(c *vice.Config) (p legPlan, ok bool, err error) {
	if c.Network.BridgeMAC == "" {
		return legPlan{}, false, nil
	}
	if p.mac, err = net.ParseMAC(c.Network.BridgeMAC); err != nil {
		return legPlan{}, false, fmt.Errorf("the bridge NIC's MAC: %w", err)
	}
	rng := network.DefaultBridgeRange
	if c.Network.BridgeRange != "" {
		if rng, err = netip.ParsePrefix(c.Network.BridgeRange); err != nil {
			return legPlan{}, false, fmt.Errorf("the bridge range: %w", err)
		}
	}
	if !rng.Addr().Is4() || rng.Bits() > 30 {
		return legPlan{}, false, fmt.Errorf("the bridge range %s: an IPv4 CIDR with room for a gateway and containers is needed", rng)
	}
	subnet, gw := network.BridgeSubnet(rng)
	nats := []netip.Prefix{rng.Masked()}
	if u := network.UserNetworkRange(rng); !u.Overlaps(rng) {
		nats = append(nats, u)
	}
	return legPlan{mac: p.mac, addr: netip.PrefixFrom(gw, subnet.Bits()), nats: nats}, true, nil
}

// setupLeg brings the bridge leg up (see above): NAT and forwarding
// first, then the gateway address and the link, so nothing is forwarded
// unmasqueraded. A config without the bridge MAC, or a VM without a NIC
// that has it, is logged and left without a leg: vchd still serves the
// API, but bridge-network containers have no gateway.
func setupLeg(c *vice.Config, wait time.Duration, log *zap.Logger) error {
	p, ok, err := planLeg(c)
	if err != nil {
		return fmt.Errorf("bridge leg: %w", err)
	}
	if !ok {
		log.Warn("the config records no MAC for the bridge NIC (made by an older vic-machine): no bridge leg, so containers on the bridge network have no gateway, NAT or published ports")
		return nil
	}
	link, err := guestos.WaitLink(p.mac, wait)
	if err != nil {
		log.Warn("no bridge leg: containers on the bridge network have no gateway, NAT or published ports", zap.Error(err))
		return nil
	}
	name := link.Attrs().Name
	if err := writeNAT(name, p.nats); err != nil {
		return fmt.Errorf("bridge leg on %s: NAT: %w", name, err)
	}
	if err := os.WriteFile(ipForward, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("bridge leg on %s: IPv4 forwarding: %w", name, err)
	}
	// The address and the link up, as vchd's legs on user-defined
	// networks get them (the NIC is there already: no wait).
	if err := guestos.AddrUp(p.mac.String(), p.addr, 0); err != nil {
		return fmt.Errorf("bridge leg: %w", err)
	}
	log.Info("bridge leg up", zap.String("nic", name), zap.String("mac", p.mac.String()), zap.String("address", p.addr.String()),
		zap.Any("masquerade", p.nats))
	return nil
}

// writeNAT replaces the NAT table, in one netlink transaction: the
// masquerade of each range leaving by any interface but leg, and a
// forward chain that drops packets from one range to any of them. The
// endpoint never forwards between two containers of one network (they
// share the port group), so what it would forward there goes from one
// network to another, which docker keeps apart.
func writeNAT(leg string, ranges []netip.Prefix) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: natTable}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("list nftables tables: %w", err)
	}
	for _, old := range tables {
		if old.Name == natTable {
			c.DelTable(t)
		}
	}
	c.AddTable(t)
	accept := nftables.ChainPolicyAccept
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	for _, rng := range ranges {
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: masqueradeRule(leg, rng)})
		for _, to := range ranges {
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: isolationRule(rng, to)})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table ip %s: %w", natTable, err)
	}
	return nil
}

// matchRange loads the IPv4 address at offset (12 source, 16
// destination) and compares it with rng.
func matchRange(offset uint32, rng netip.Prefix) []expr.Any {
	rng = rng.Masked()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(rng.Bits(), 32), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: rng.Addr().AsSlice()},
	}
}

// isolationRule is "ip saddr from ip daddr to drop".
func isolationRule(from, to netip.Prefix) []expr.Any {
	return append(append(matchRange(12, from), matchRange(16, to)...), &expr.Verdict{Kind: expr.VerdictDrop})
}

// masqueradeRule is "ip saddr rng oifname != leg masquerade".
func masqueradeRule(leg string, rng netip.Prefix) []expr.Any {
	ifname := make([]byte, unix.IFNAMSIZ)
	copy(ifname, leg)
	return append(matchRange(12, rng),
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname},
		&expr.Masq{},
	)
}
