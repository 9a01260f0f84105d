package network

import (
	"fmt"
	"net/netip"

	"github.com/vchproject/vch/errdefs"
)

// Pool hands out the addresses of one subnet: never the network address,
// the broadcast address or the gateway. Its zero value is not usable; the
// leases map is exported through Leases for persistence.
type Pool struct {
	subnet  netip.Prefix
	gateway netip.Addr
	lo, hi  netip.Addr            // where Allocate looks: subnet, IP range or span
	dynName string                // lo..hi as the user gave it, for errors
	leases  map[netip.Addr]string // address -> owner
}

// NewPool returns an empty pool of subnet (IPv4) with gateway reserved.
func NewPool(subnet netip.Prefix, gateway netip.Addr) (*Pool, error) {
	if !subnet.Addr().Is4() || subnet.Bits() > 30 {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("subnet %s: an IPv4 subnet of at least 4 addresses is needed", subnet))
	}
	if !subnet.Contains(gateway) {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("gateway %s is not in subnet %s", gateway, subnet))
	}
	sub := subnet.Masked()
	return &Pool{subnet: sub, gateway: gateway, lo: sub.Addr(), hi: lastAddr(sub), dynName: sub.String(), leases: map[netip.Addr]string{}}, nil
}

// NewRangePool is NewPool whose Allocate takes addresses from ipRange
// only (docker's --ip-range); Claim takes any usable address of subnet.
func NewRangePool(subnet netip.Prefix, gateway netip.Addr, ipRange netip.Prefix) (*Pool, error) {
	p, err := NewPool(subnet, gateway)
	if err != nil || !ipRange.IsValid() {
		return p, err
	}
	if !ipRange.Addr().Is4() || ipRange.Bits() < p.subnet.Bits() || !p.subnet.Contains(ipRange.Addr()) {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("ip-range %s is not in subnet %s", ipRange, subnet))
	}
	r := ipRange.Masked()
	p.lo, p.hi, p.dynName = r.Addr(), lastAddr(r), r.String()
	return p, nil
}

// NewSpanPool is NewPool whose Allocate takes addresses from..to only
// (a container network's --container-network-ip-range FROM-TO).
func NewSpanPool(subnet netip.Prefix, gateway, from, to netip.Addr) (*Pool, error) {
	p, err := NewPool(subnet, gateway)
	if err != nil {
		return nil, err
	}
	if !p.subnet.Contains(from) || !p.subnet.Contains(to) || to.Less(from) {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("ip range %s-%s is not an ascending range in subnet %s", from, to, subnet))
	}
	p.lo, p.hi, p.dynName = from, to, from.String()+"-"+to.String()
	return p, nil
}

// Allocate leases the lowest free address to owner.
func (p *Pool) Allocate(owner string) (netip.Addr, error) {
	for a := p.lo; a.IsValid() && !p.hi.Less(a); a = a.Next() {
		if !p.usable(a) {
			continue
		}
		if _, taken := p.leases[a]; !taken {
			p.leases[a] = owner
			return a, nil
		}
	}
	return netip.Addr{}, errdefs.Conflict(fmt.Sprintf("no available IPv4 addresses on this network's address pools: %s", p.dynName))
}

// usable: in the subnet, neither its network nor broadcast address, not
// the gateway.
func (p *Pool) usable(a netip.Addr) bool {
	return p.subnet.Contains(a) && a != p.subnet.Addr() && a != lastAddr(p.subnet) && a != p.gateway
}

// InRange tells whether a is a usable address inside the range Allocate
// takes from (a container network's --container-network-ip-range).
func (p *Pool) InRange(a netip.Addr) bool {
	return p.usable(a) && !a.Less(p.lo) && !p.hi.Less(a)
}

// Claim leases a to owner (a static address, or a persisted lease).
func (p *Pool) Claim(a netip.Addr, owner string) error {
	if !p.usable(a) {
		if p.subnet.Contains(a) {
			return errdefs.InvalidParameter(fmt.Sprintf("address %s is reserved in %s", a, p.subnet))
		}
		return errdefs.InvalidParameter(fmt.Sprintf("no configured subnet or ip-range contain the IP address %s", a))
	}
	if o, taken := p.leases[a]; taken && o != owner {
		return errdefs.Conflict(fmt.Sprintf("Address already in use: %s", a))
	}
	p.leases[a] = owner
	return nil
}

// Release frees a; releasing a free address is a no-op.
func (p *Pool) Release(a netip.Addr) { delete(p.leases, a) }

// Leases returns a copy of the current leases.
func (p *Pool) Leases() map[netip.Addr]string {
	out := make(map[netip.Addr]string, len(p.leases))
	for k, v := range p.leases {
		out[k] = v
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1 << host) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// SubnetsOf splits r into /bits subnets, in order.
func SubnetsOf(r netip.Prefix, bits int) []netip.Prefix {
	if bits < r.Bits() || bits > 32 {
		return nil
	}
	var out []netip.Prefix
	n := 1 << (bits - r.Bits())
	base := r.Masked().Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	step := uint32(1) << (32 - bits)
	for i := 0; i < n && i < 65536; i++ {
		a := v + uint32(i)*step
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits))
	}
	return out
}

// PortAllocatedError is docker's text for a host port already in use.
func PortAllocatedError(b PortBinding) error {
	ip := "0.0.0.0"
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return errdefs.Conflict(fmt.Sprintf("Bind for %s:%d failed: port is already allocated", ip, b.HostPort))
}

// Pool6 hands out the addresses of one IPv6 subnet, from its ::2 upwards
// (never the subnet-router anycast address ::0 or the gateway).
type Pool6 struct {
	subnet  netip.Prefix
	gateway netip.Addr
	leases  map[netip.Addr]string
	// from..to, if set, is where Allocate takes addresses (a container
	// network's range; the rest of the subnet is other hosts').
	from, to netip.Addr
}

// NewSpanPool6 is NewPool6 whose dynamic addresses are from..to.
func NewSpanPool6(subnet netip.Prefix, gateway, from, to netip.Addr) (*Pool6, error) {
	p, err := NewPool6(subnet, gateway)
	if err != nil {
		return nil, err
	}
	if !subnet.Contains(from) || !subnet.Contains(to) || to.Less(from) {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("IPv6 range %s-%s is not an ascending range of %s", from, to, subnet))
	}
	p.from, p.to = from, to
	return p, nil
}

// InRange tells whether a is one of the pool's dynamic addresses.
func (p *Pool6) InRange(a netip.Addr) bool {
	if !p.from.IsValid() {
		return p.subnet.Contains(a)
	}
	return !a.Less(p.from) && !p.to.Less(a)
}

// maxPool6Scan bounds how far Allocate looks (a /64 is never scanned
// whole).
const maxPool6Scan = 1 << 16

// NewPool6 returns an empty pool of subnet with gateway reserved.
func NewPool6(subnet netip.Prefix, gateway netip.Addr) (*Pool6, error) {
	if !subnet.Addr().Is6() || subnet.Addr().Is4In6() || subnet.Bits() > 120 {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("IPv6 subnet %s: an IPv6 prefix of at most /120 is needed", subnet))
	}
	if !subnet.Contains(gateway) || gateway == subnet.Masked().Addr() {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("IPv6 gateway %s is not a host address of %s", gateway, subnet))
	}
	return &Pool6{subnet: subnet.Masked(), gateway: gateway, leases: map[netip.Addr]string{}}, nil
}

// Allocate leases the lowest free address to owner.
func (p *Pool6) Allocate(owner string) (netip.Addr, error) {
	a := p.subnet.Addr().Next()
	if p.from.IsValid() {
		a = p.from
	}
	for i := 0; i < maxPool6Scan && p.subnet.Contains(a) && p.InRange(a); i, a = i+1, a.Next() {
		if _, taken := p.leases[a]; taken || a == p.gateway {
			continue
		}
		p.leases[a] = owner
		return a, nil
	}
	return netip.Addr{}, errdefs.Conflict(fmt.Sprintf("no available IPv6 addresses on this network's address pools: %s", p.subnet))
}

// Claim leases a to owner (a persisted lease).
func (p *Pool6) Claim(a netip.Addr, owner string) error {
	if !p.subnet.Contains(a) || a == p.gateway || a == p.subnet.Addr() {
		return errdefs.InvalidParameter(fmt.Sprintf("address %s is not usable in %s", a, p.subnet))
	}
	if o, taken := p.leases[a]; taken && o != owner {
		return errdefs.Conflict(fmt.Sprintf("Address already in use: %s", a))
	}
	p.leases[a] = owner
	return nil
}

// Release frees a.
func (p *Pool6) Release(a netip.Addr) { delete(p.leases, a) }

// ULASubnet is the /64 of fd00::/8 an IPv6 network without a given subnet
// gets: fd, 40 bits of its ID (the global ID), subnet 0.
func ULASubnet(id string) netip.Prefix {
	var b [16]byte
	b[0] = 0xfd
	for i := 0; i < 5 && 2*i+1 < len(id); i++ {
		var v byte
		fmt.Sscanf(id[2*i:2*i+2], "%02x", &v)
		b[1+i] = v
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}
