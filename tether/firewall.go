package tether

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/proto"
)

// The guest's firewall: on vSphere a container network is a port group
// whose traffic passes no host of the VCH, so the container VM enforces
// the network's level itself, on that NIC, with nftables (the QEMU
// provider enforces it on the host, and its NICs carry no Firewall). One
// table, inet vch, holds an input and an output chain; each NIC with a
// level below open has its rules there, matched by interface name. The
// table is rewritten whole, in one netlink transaction, whenever a NIC's
// firewall changes.

const fwTable = "vch"

// guestFirewall is the set of NICs' firewalls, by interface name.
type guestFirewall struct {
	mu   sync.Mutex
	nics map[string]*proto.GuestFirewall
}

var firewall = &guestFirewall{nics: map[string]*proto.GuestFirewall{}}

// set puts ifname's firewall (nil: none) and rewrites the table.
func (g *guestFirewall) set(ifname string, fw *proto.GuestFirewall, log *zap.Logger) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, had := g.nics[ifname]
	if fw == nil || fw.Level == proto.FirewallOpen {
		if !had {
			return nil
		}
		delete(g.nics, ifname)
	} else {
		g.nics[ifname] = fw
	}
	if err := writeFirewall(g.nics); err != nil {
		return fmt.Errorf("firewall of %s: %w", ifname, err)
	}
	if fw != nil {
		log.Debug("firewall set", zap.String("nic", ifname), zap.String("level", fw.Level))
	}
	return nil
}

// writeFirewall replaces the table with the rules of nics.
func writeFirewall(nics map[string]*proto.GuestFirewall) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("list nftables tables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: fwTable}
	for _, old := range tables {
		if old.Name == fwTable {
			c.DelTable(t)
		}
	}
	if len(nics) == 0 {
		return c.Flush()
	}
	c.AddTable(t)
	accept := nftables.ChainPolicyAccept
	in := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	names := make([]string, 0, len(nics))
	for n := range nics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		inRules, outRules, err := firewallRules(name, nics[name])
		if err != nil {
			return err
		}
		for _, r := range inRules {
			c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: r})
		}
		for _, r := range outRules {
			c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: r})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// firewallRules are one NIC's input and output rules for its level (the
// local provider's levels, network.Firewall*):
//
//	closed:    nothing in or out
//	outbound:  replies in, anything out
//	published: replies in, new connections to the published ports in
//	peers:     with the network's subnets only, and DNS to its name servers
//
// IPv6 neighbour discovery passes at every level (IPv6's ARP).
func firewallRules(ifname string, fw *proto.GuestFirewall) (in, out [][]expr.Any, err error) {
	iif := ifMatch(expr.MetaKeyIIFNAME, ifname)
	oif := ifMatch(expr.MetaKeyOIFNAME, ifname)
	rule := func(parts ...[]expr.Any) []expr.Any {
		var r []expr.Any
		for _, p := range parts {
			r = append(r, p...)
		}
		return r
	}
	acceptV := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	dropV := []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}
	for _, typ := range []byte{135, 136} { // neighbour solicitation, advertisement
		nd := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{typ}},
		}
		in = append(in, rule(iif, nd, acceptV))
		out = append(out, rule(oif, nd, acceptV))
	}
	peers := make([]netip.Prefix, 0, len(fw.Peers))
	for _, p := range fw.Peers {
		pp, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, nil, err
		}
		peers = append(peers, pp.Masked())
	}
	switch fw.Level {
	case proto.FirewallClosed:
		in = append(in, rule(iif, dropV))
		out = append(out, rule(oif, dropV))
	case proto.FirewallOutbound:
		in = append(in, rule(iif, established(), acceptV), rule(iif, dropV))
	case proto.FirewallPublished:
		in = append(in, rule(iif, established(), acceptV))
		for _, p := range fw.Published {
			l4 := byte(unix.IPPROTO_TCP)
			if p.Proto == "udp" {
				l4 = unix.IPPROTO_UDP
			}
			in = append(in, rule(iif, dport(l4, p.Port), acceptV))
		}
		in = append(in, rule(iif, dropV))
	case proto.FirewallPeers:
		in = append(in, rule(iif, established(), acceptV))
		out = append(out, rule(oif, established(), acceptV))
		for _, d := range fw.DNS {
			a, err := netip.ParseAddr(d)
			if err != nil {
				return nil, nil, err
			}
			for _, l4 := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
				out = append(out, rule(oif, addrMatch(netip.PrefixFrom(a, a.BitLen()), false), dport(l4, 53), acceptV))
			}
		}
		for _, p := range peers {
			in = append(in, rule(iif, addrMatch(p, true), acceptV))
			out = append(out, rule(oif, addrMatch(p, false), acceptV))
		}
		in = append(in, rule(iif, dropV))
		out = append(out, rule(oif, dropV))
	default:
		return nil, nil, fmt.Errorf("firewall level %q", fw.Level)
	}
	return in, out, nil
}

// ifMatch matches the input or output interface's name.
func ifMatch(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// established matches ct state established,related.
func established() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// dport matches a TCP or UDP destination port.
func dport(l4 byte, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// addrMatch matches the source (src) or destination address against p,
// for p's IP version only.
func addrMatch(p netip.Prefix, src bool) []expr.Any {
	family, off, n := byte(unix.NFPROTO_IPV4), uint32(16), uint32(4)
	if src {
		off = 12
	}
	if p.Addr().Is6() {
		family, off, n = unix.NFPROTO_IPV6, 24, 16
		if src {
			off = 8
		}
	}
	mask := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
	}
}
