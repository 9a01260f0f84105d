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
	return &Pool{subnet: subnet.Masked(), gateway: gateway, leases: map[netip.Addr]string{}}, nil
}

// Allocate leases the lowest free address to owner.
func (p *Pool) Allocate(owner string) (netip.Addr, error) {
	last := lastAddr(p.subnet)
	for a := p.subnet.Addr().Next(); a.IsValid() && a.Less(last); a = a.Next() {
		if a == p.gateway {
			continue
		}
		if _, taken := p.leases[a]; !taken {
			p.leases[a] = owner
			return a, nil
		}
	}
	return netip.Addr{}, errdefs.Unavailable(fmt.Sprintf("no available IPv4 addresses on this network's address pools: %s", p.subnet))
}

// Claim leases a to owner (reloading persisted leases).
func (p *Pool) Claim(a netip.Addr, owner string) error {
	if !p.subnet.Contains(a) || a == p.gateway {
		return errdefs.InvalidParameter(fmt.Sprintf("address %s is not usable in %s", a, p.subnet))
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
