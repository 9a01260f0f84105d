package network

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// PortBinder makes port bindings real on the host (listeners, NAT rules)
// or pretends to (the fake).
type PortBinder interface {
	// Bind publishes b for ep and returns it with the host port in use
	// (b.HostPort 0 picks one). A port taken by something else is
	// PortAllocatedError.
	Bind(ep Endpoint, b PortBinding) (PortBinding, error)
	// Unbind withdraws a binding Bind returned.
	Unbind(ep Endpoint, b PortBinding)
}

// Book is the bookkeeping every provider shares: networks, their address
// pools and the endpoints of containers. It does no I/O; the provider
// guards it with its own lock and persists State().
type Book struct {
	networks []Network
	pools    map[string]*Pool  // network ID -> pool
	pools6   map[string]*Pool6 // network ID -> IPv6 pool (IPv6 networks)
	eps      map[string][]*Endpoint
}

// BookState is a Book's persistent form.
type BookState struct {
	Networks  []Network              `json:"networks"`
	Endpoints map[string][]*Endpoint `json:"endpoints"`
}

// NewBook returns a Book of nets (no endpoints).
func NewBook(nets ...Network) (*Book, error) {
	b := &Book{pools: map[string]*Pool{}, pools6: map[string]*Pool6{}, eps: map[string][]*Endpoint{}}
	for _, n := range nets {
		p, err := poolOf(n)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		b.networks = append(b.networks, n)
		b.pools[n.ID] = p
		if n.Subnet6.IsValid() {
			if b.pools6[n.ID], err = pool6Of(n); err != nil {
				return nil, fmt.Errorf("network %s: %w", n.Name, err)
			}
		}
	}
	return b, nil
}

func pool6Of(n Network) (*Pool6, error) {
	if n.Container && n.RangeFrom6.IsValid() {
		return NewSpanPool6(n.Subnet6, n.Gateway6, n.RangeFrom6, n.RangeTo6)
	}
	return NewPool6(n.Subnet6, n.Gateway6)
}

func poolOf(n Network) (*Pool, error) {
	if n.Container {
		return NewSpanPool(n.Subnet, n.Gateway, n.RangeFrom, n.RangeTo)
	}
	return NewRangePool(n.Subnet, n.Gateway, n.IPRange)
}

// containerNet tells whether the network with ID id is a container
// network.
func (b *Book) containerNet(id string) bool {
	for _, n := range b.networks {
		if n.ID == id {
			return n.Container
		}
	}
	return false
}

// ValidateContainerNetwork checks one container network's settings
// (without regard to other networks).
func ValidateContainerNetwork(s ContainerNetworkSpec) error {
	bad := func(format string, a ...any) error {
		return errdefs.InvalidParameter(fmt.Sprintf("container network %s: ", s.Name) + fmt.Sprintf(format, a...))
	}
	switch {
	case s.Name == "" || strings.ContainsAny(s.Name, " /:\t"):
		return errdefs.InvalidParameter(fmt.Sprintf("container network %q: the alias must be a non-empty name without spaces, '/' or ':'", s.Name))
	case s.Name == BridgeName || s.Name == "host" || s.Name == "none":
		return bad("%s is docker's own network name: give the container network another alias", s.Name)
	case s.Bridge == "" || len(s.Bridge) > 15 || strings.ContainsAny(s.Bridge, " /:"):
		return bad("host bridge %q: want an interface name of at most 15 characters", s.Bridge)
	case !s.Gateway.IsValid() || !s.Gateway.Addr().Is4():
		return bad("an IPv4 gateway GW/PREFIX is needed (--container-network-gateway %s:GW/PREFIX)", s.Name)
	case !s.RangeFrom.IsValid() || !s.RangeTo.IsValid():
		return bad("an address range is needed (--container-network-ip-range %s:FROM-TO)", s.Name)
	}
	if s.Firewall != "" && !slices.Contains(FirewallLevels, s.Firewall) {
		return bad("firewall level %q: want one of %s", s.Firewall, strings.Join(FirewallLevels, ", "))
	}
	if _, err := NewSpanPool(s.Gateway.Masked(), s.Gateway.Addr(), s.RangeFrom, s.RangeTo); err != nil {
		return bad("%v", err)
	}
	if s.Gateway.Addr() == s.Gateway.Masked().Addr() || s.Gateway.Addr() == lastAddr(s.Gateway) {
		return bad("gateway %s is not a host address of %s", s.Gateway.Addr(), s.Gateway.Masked())
	}
	return nil
}

// SetContainerNetworks makes the book's container networks those of
// specs: new ones are added (IDs from NewID), the firewall level and name
// servers of existing ones updated, their addressing too while nobody is
// joined to them. Those no longer configured are removed and returned,
// unless containers are joined to them: those stay (in kept) until the
// containers are removed. On error the book is unchanged.
func (b *Book) SetContainerNetworks(specs []ContainerNetworkSpec) (removed []Network, kept []string, err error) {
	next := &Book{networks: slices.Clone(b.networks), pools: maps.Clone(b.pools), pools6: maps.Clone(b.pools6), eps: b.eps}
	want := map[string]bool{}
	for _, s := range specs {
		if err := ValidateContainerNetwork(s); err != nil {
			return nil, nil, err
		}
		if want[s.Name] {
			return nil, nil, errdefs.InvalidParameter(fmt.Sprintf("container network %s is configured twice", s.Name))
		}
		want[s.Name] = true
		if s.Firewall == "" {
			s.Firewall = FirewallPublished
		}
		n := Network{
			Name: s.Name, Driver: ContainerDriver, Subnet: s.Gateway.Masked(), Gateway: s.Gateway.Addr(),
			Bridge: s.Bridge, Container: true, RangeFrom: s.RangeFrom, RangeTo: s.RangeTo,
			DNS: slices.Clone(s.DNS), Firewall: s.Firewall, Created: time.Now().UTC(),
		}
		if s.Gateway6.IsValid() {
			n.Subnet6, n.Gateway6 = s.Gateway6.Masked(), s.Gateway6.Addr()
			n.RangeFrom6, n.RangeTo6 = s.RangeFrom6, s.RangeTo6
			if _, err := pool6Of(n); err != nil {
				return nil, nil, fmt.Errorf("container network %s: %w", s.Name, err)
			}
		}
		i := slices.IndexFunc(next.networks, func(x Network) bool { return x.Name == s.Name })
		if i >= 0 && !next.networks[i].Container {
			return nil, nil, errdefs.Conflict(fmt.Sprintf("container network %s: network with name %s already exists", s.Name, s.Name))
		}
		for _, have := range next.networks {
			if have.Name == s.Name {
				continue
			}
			if n.Subnet6.IsValid() && have.Subnet6.IsValid() && have.Subnet6.Overlaps(n.Subnet6) {
				return nil, nil, errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("container network %s: Pool overlaps with other one on this address space: %s overlaps %s of network %s", s.Name, n.Subnet6, have.Subnet6, have.Name))
			}
			if have.Subnet.Overlaps(n.Subnet) {
				return nil, nil, errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("container network %s: Pool overlaps with other one on this address space: %s overlaps %s of network %s", s.Name, n.Subnet, have.Subnet, have.Name))
			}
			if have.Bridge == n.Bridge {
				return nil, nil, errdefs.Conflict(fmt.Sprintf("container network %s: bridge %s is already network %s's", s.Name, n.Bridge, have.Name))
			}
		}
		if i < 0 {
			n.ID = NewID()
			p, _ := poolOf(n)
			next.networks = append(next.networks, n)
			next.pools[n.ID] = p
			if n.Subnet6.IsValid() {
				next.pools6[n.ID], _ = pool6Of(n)
			}
			continue
		}
		old := next.networks[i]
		n.ID, n.Created, n.OwnBridge = old.ID, old.Created, old.OwnBridge
		if n.Subnet != old.Subnet || n.Gateway != old.Gateway || n.RangeFrom != old.RangeFrom || n.RangeTo != old.RangeTo || n.Bridge != old.Bridge ||
			n.Subnet6 != old.Subnet6 || n.Gateway6 != old.Gateway6 || n.RangeFrom6 != old.RangeFrom6 || n.RangeTo6 != old.RangeTo6 {
			if users := b.Users(old.ID); len(users) > 0 {
				return nil, nil, errdefs.Conflict(fmt.Sprintf("container network %s: %d containers are on it; its bridge, gateway and range can change once they are removed", s.Name, len(users)))
			}
			p, _ := poolOf(n)
			next.pools[n.ID] = p
			delete(next.pools6, n.ID)
			if n.Subnet6.IsValid() {
				next.pools6[n.ID], _ = pool6Of(n)
			}
		}
		next.networks[i] = n
	}
	var out []Network
	for _, n := range next.networks {
		if n.Container && !want[n.Name] {
			if len(b.Users(n.ID)) > 0 {
				kept = append(kept, n.Name)
			} else {
				removed = append(removed, n)
				delete(next.pools, n.ID)
				delete(next.pools6, n.ID)
				continue
			}
		}
		out = append(out, n)
	}
	b.networks, b.pools, b.pools6 = out, next.pools, next.pools6
	return removed, kept, nil
}

// SetBridgeIPv6 gives the default bridge network the IPv6 subnet (its
// ::1 the gateway; zero: no IPv6), as dockerd's --ipv6 --fixed-cidr-v6.
// It returns the bridge network as it was and whether it changed. The
// subnet can change only while no container holds an IPv6 address of the
// bridge (ErrConflict); one overlapping another network's IPv6 subnet is
// ErrForbidden. On error the book is unchanged.
func (b *Book) SetBridgeIPv6(subnet netip.Prefix) (old Network, changed bool, err error) {
	i := slices.IndexFunc(b.networks, func(n Network) bool {
		return n.Name == BridgeName && !n.UserDefined && !n.Container
	})
	if i < 0 {
		return Network{}, false, errdefs.NotFound("network bridge not found")
	}
	old = b.networks[i]
	subnet = subnet.Masked()
	if subnet == old.Subnet6 {
		return old, false, nil
	}
	var p6 *Pool6
	gw := netip.Addr{}
	if subnet.IsValid() {
		gw = subnet.Addr().Next()
		if p6, err = NewPool6(subnet, gw); err != nil {
			return old, false, fmt.Errorf("bridge network IPv6: %w", err)
		}
		for _, have := range b.networks {
			if have.ID != old.ID && have.Subnet6.IsValid() && have.Subnet6.Overlaps(subnet) {
				return old, false, errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("bridge network IPv6: Pool overlaps with other one on this address space: %s overlaps %s of network %s", subnet, have.Subnet6, have.Name))
			}
		}
	}
	held := 0
	for _, eps := range b.eps {
		for _, ep := range eps {
			if ep.Network == old.ID && ep.Active && ep.Address6.IsValid() {
				held++
			}
		}
	}
	if held > 0 {
		return old, false, errdefs.Conflict(fmt.Sprintf("bridge network IPv6: %d running containers hold addresses of %s; it can change once they are stopped", held, old.Subnet6))
	}
	b.networks[i].Subnet6, b.networks[i].Gateway6 = subnet, gw
	if p6 != nil {
		b.pools6[old.ID] = p6
	} else {
		delete(b.pools6, old.ID)
	}
	return old, true, nil
}

// SetDNSAddr records where the provider serves DNS on container network
// id (zero: nowhere).
func (b *Book) SetDNSAddr(id string, a netip.Addr) {
	for i := range b.networks {
		if b.networks[i].ID == id {
			b.networks[i].DNSAddr = a
		}
	}
}

// SetOwnBridge records that the provider made network id's host bridge.
func (b *Book) SetOwnBridge(id string) {
	for i := range b.networks {
		if b.networks[i].ID == id {
			b.networks[i].OwnBridge = true
		}
	}
}

// LoadBook rebuilds a Book from its state, re-claiming active leases.
func LoadBook(s BookState) (*Book, error) {
	b, err := NewBook(s.Networks...)
	if err != nil {
		return nil, err
	}
	for c, eps := range s.Endpoints {
		for _, ep := range eps {
			if ep.Active && ep.Address.IsValid() {
				if p := b.pools[ep.Network]; p != nil {
					if err := p.Claim(ep.Address.Addr(), c); err != nil {
						return nil, fmt.Errorf("reload lease of %s: %w", c, err)
					}
				}
			}
			if ep.Active && ep.Address6.IsValid() {
				if p := b.pools6[ep.Network]; p != nil {
					if err := p.Claim(ep.Address6.Addr(), c); err != nil {
						return nil, fmt.Errorf("reload IPv6 lease of %s: %w", c, err)
					}
				}
			}
			b.eps[c] = append(b.eps[c], ep)
		}
	}
	return b, nil
}

// State returns a deep copy for persistence.
func (b *Book) State() BookState {
	s := BookState{Networks: slices.Clone(b.networks), Endpoints: map[string][]*Endpoint{}}
	for c, eps := range b.eps {
		for _, ep := range eps {
			cp := cloneEndpoint(*ep)
			s.Endpoints[c] = append(s.Endpoints[c], &cp)
		}
	}
	return s
}

func cloneEndpoint(e Endpoint) Endpoint {
	e.Aliases = slices.Clone(e.Aliases)
	e.DNSNames = slices.Clone(e.DNSNames)
	e.Upstreams = slices.Clone(e.Upstreams)
	e.Ports = slices.Clone(e.Ports)
	e.Bound = slices.Clone(e.Bound)
	return e
}

// Networks lists the networks.
func (b *Book) Networks() []Network { return slices.Clone(b.networks) }

// Network finds a network by name, ID or unique ID prefix.
func (b *Book) Network(nameOrID string) (Network, error) {
	for _, n := range b.networks {
		if n.Name == nameOrID || n.ID == nameOrID {
			return n, nil
		}
	}
	var found []Network
	if nameOrID != "" {
		for _, n := range b.networks {
			if strings.HasPrefix(n.ID, nameOrID) {
				found = append(found, n)
			}
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return Network{}, errdefs.NotFound(fmt.Sprintf("network %s not found", nameOrID))
}

// CreateNetwork adds a user-defined network. n.ID and n.Bridge may be
// set by the caller (the host side is named after the ID); a zero Subnet
// is the first of auto that overlaps no network.
func (b *Book) CreateNetwork(spec NetworkSpec, id, bridge string, auto []netip.Prefix) (Network, error) {
	if spec.Driver != "" && spec.Driver != "bridge" {
		return Network{}, errdefs.NotFound(fmt.Sprintf("plugin %q not found", spec.Driver))
	}
	if spec.Name == "" {
		return Network{}, errdefs.InvalidParameter("network name cannot be empty")
	}
	for _, have := range b.networks {
		if have.Name == spec.Name {
			return Network{}, errdefs.Conflict(fmt.Sprintf("network with name %s already exists", spec.Name))
		}
	}
	n := Network{
		ID: id, Name: spec.Name, Driver: "bridge", Subnet: spec.Subnet.Masked(), Gateway: spec.Gateway,
		IPRange: spec.IPRange, Bridge: bridge, Internal: spec.Internal, UserDefined: true,
		SubnetGiven: spec.Subnet.IsValid(), Labels: maps.Clone(spec.Labels), Options: maps.Clone(spec.Options),
		Created: time.Now().UTC(),
	}
	if n.ID == "" {
		n.ID = NewID()
	}
	if n.SubnetGiven {
		if !n.Subnet.Addr().Is4() {
			return Network{}, errdefs.NotImplemented(fmt.Sprintf("subnet %s: only IPv4 networks are supported", spec.Subnet))
		}
		for _, have := range b.networks {
			if have.Subnet.Overlaps(n.Subnet) {
				return Network{}, errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("Pool overlaps with other one on this address space: %s overlaps %s of network %s", n.Subnet, have.Subnet, have.Name))
			}
		}
	} else {
		if spec.Gateway.IsValid() || spec.IPRange.IsValid() {
			return Network{}, errdefs.InvalidParameter("gateway and ip-range need a subnet")
		}
		for _, sub := range auto {
			free := true
			for _, have := range b.networks {
				free = free && !have.Subnet.Overlaps(sub)
			}
			if free {
				n.Subnet = sub
				break
			}
		}
		if !n.Subnet.IsValid() {
			return Network{}, errdefs.Conflict("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
		}
	}
	if !n.Gateway.IsValid() {
		n.Gateway = n.Subnet.Addr().Next()
	}
	p, err := NewRangePool(n.Subnet, n.Gateway, n.IPRange)
	if err != nil {
		return Network{}, err
	}
	if n.Gateway == n.Subnet.Addr() || n.Gateway == lastAddr(n.Subnet) {
		return Network{}, errdefs.InvalidParameter(fmt.Sprintf("gateway %s is not a host address of %s", n.Gateway, n.Subnet))
	}
	var p6 *Pool6
	if spec.IPv6 {
		n.Subnet6, n.Gateway6 = spec.Subnet6.Masked(), spec.Gateway6
		if !n.Subnet6.IsValid() {
			n.Subnet6 = ULASubnet(n.ID)
		}
		if !n.Gateway6.IsValid() {
			n.Gateway6 = n.Subnet6.Addr().Next()
		}
		for _, have := range b.networks {
			if have.Subnet6.IsValid() && have.Subnet6.Overlaps(n.Subnet6) {
				return Network{}, errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("Pool overlaps with other one on this address space: %s overlaps %s of network %s", n.Subnet6, have.Subnet6, have.Name))
			}
		}
		if p6, err = NewPool6(n.Subnet6, n.Gateway6); err != nil {
			return Network{}, err
		}
	} else if spec.Subnet6.IsValid() || spec.Gateway6.IsValid() {
		return Network{}, errdefs.InvalidParameter("an IPv6 subnet or gateway needs --ipv6")
	}
	b.networks = append(b.networks, n)
	b.pools[n.ID] = p
	if p6 != nil {
		b.pools6[n.ID] = p6
	}
	return n, nil
}

// RemoveNetwork removes a user-defined network nobody is joined to and
// returns it.
func (b *Book) RemoveNetwork(nameOrID string) (Network, error) {
	n, err := b.Network(nameOrID)
	if err != nil {
		return Network{}, err
	}
	if !n.UserDefined {
		return Network{}, errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("%s is a pre-defined network and cannot be removed", n.Name))
	}
	if users := b.Users(n.ID); len(users) > 0 {
		return Network{}, errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID))
	}
	b.networks = slices.DeleteFunc(b.networks, func(x Network) bool { return x.ID == n.ID })
	delete(b.pools, n.ID)
	delete(b.pools6, n.ID)
	return n, nil
}

// Users lists the containers joined to the network with ID id.
func (b *Book) Users(id string) []string {
	var out []string
	for c, eps := range b.eps {
		for _, ep := range eps {
			if ep.Network == id {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Resolve answers name for the container at address from (any of its
// IPv4 or IPv6 addresses): the addresses of active endpoints called name
// on the networks that container is on, IPv4 and IPv6 (an endpoint on an
// IPv6-enabled network has both).
func (b *Book) Resolve(from netip.Addr, name string) ([]netip.Addr, error) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	shared := map[string]bool{}
	for _, eps := range b.eps {
		for _, ep := range eps {
			if ep.Active && (ep.Address.Addr() == from || ep.Address6.IsValid() && ep.Address6.Addr() == from) {
				for _, mine := range b.eps[ep.Container] {
					if mine.Active {
						shared[mine.Network] = true
					}
				}
			}
		}
	}
	var out []netip.Addr
	for _, c := range b.Containers() {
		for _, ep := range b.eps[c] {
			if !ep.Active || !shared[ep.Network] {
				continue
			}
			for _, n := range ep.DNSNames {
				if strings.ToLower(n) == name {
					out = append(out, ep.Address.Addr())
					if ep.Address6.IsValid() {
						out = append(out, ep.Address6.Addr())
					}
					break
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errdefs.NotFound(fmt.Sprintf("no container named %s on the networks of %s", name, from))
	}
	return out, nil
}

// Rename replaces the DNS name old by new in the container's endpoints.
func (b *Book) Rename(container, old, new string) {
	for _, ep := range b.eps[container] {
		for i, n := range ep.DNSNames {
			if n == old {
				ep.DNSNames[i] = new
			}
		}
	}
}

// Upstreams are the --dns servers (port 53) of the container at address
// from.
func (b *Book) Upstreams(from netip.Addr) []netip.AddrPort {
	for _, eps := range b.eps {
		for _, ep := range eps {
			if ep.Active && ep.Address.Addr() == from {
				var out []netip.AddrPort
				for _, a := range ep.Upstreams {
					out = append(out, netip.AddrPortFrom(a, 53))
				}
				return out
			}
		}
	}
	return nil
}

// Join records an endpoint.
func (b *Book) Join(container string, spec EndpointSpec) (Endpoint, error) {
	n, err := b.Network(spec.Network)
	if err != nil {
		return Endpoint{}, err
	}
	for _, ep := range b.eps[container] {
		if ep.Network == n.ID {
			return Endpoint{}, errdefs.Conflict(fmt.Sprintf("endpoint with name %s already exists in network %s", container, n.Name))
		}
	}
	if len(b.eps[container]) >= MaxEndpoints {
		return Endpoint{}, errdefs.InvalidParameter(fmt.Sprintf("a container VM of this VCH can be on at most %d networks", MaxEndpoints))
	}
	for _, pb := range spec.Ports {
		if err := validBinding(pb); err != nil {
			return Endpoint{}, err
		}
		if n.Container && pb.HostPort != 0 && pb.HostPort != pb.ContainerPort && (pb.HostPortEnd == 0 || pb.ContainerPort < pb.HostPort || pb.ContainerPort > pb.HostPortEnd) {
			return Endpoint{}, errdefs.InvalidParameter(fmt.Sprintf("container network %s publishes a container's own ports: -p %d:%d maps to another port; use -p %d:%d", n.Name, pb.HostPort, pb.ContainerPort, pb.ContainerPort, pb.ContainerPort))
		}
	}
	if spec.IPv4.IsValid() {
		if !n.UserDefined && !n.Container {
			return Endpoint{}, errdefs.InvalidParameter("user specified IP address is supported on user defined networks only")
		}
		// On a container network only the VCH's own range is its to
		// give: the rest of the subnet belongs to other hosts.
		if p := b.pools[n.ID]; p == nil || !p.usable(spec.IPv4) || n.Container && !p.InRange(spec.IPv4) {
			return Endpoint{}, errdefs.InvalidParameter(fmt.Sprintf("no configured subnet or ip-range contain the IP address %s", spec.IPv4))
		}
	}
	if spec.IPv6.IsValid() {
		if !n.UserDefined && !n.Container {
			return Endpoint{}, errdefs.InvalidParameter("user specified IP address is supported on user defined networks only")
		}
		a := spec.IPv6
		p6 := b.pools6[n.ID]
		if !n.Subnet6.IsValid() || !n.Subnet6.Contains(a) || a == n.Gateway6 || a == n.Subnet6.Masked().Addr() || n.Container && (p6 == nil || !p6.InRange(a)) {
			return Endpoint{}, errdefs.InvalidParameter(fmt.Sprintf("no configured subnet or ip-range contain the IP address %s", a))
		}
	}
	ep := &Endpoint{
		ID: NewID(), Container: container, Network: n.ID, Aliases: slices.Clone(spec.Aliases),
		DNSNames: slices.Clone(spec.DNSNames), Ports: slices.Clone(spec.Ports), IPv4: spec.IPv4, IPv6: spec.IPv6,
		Upstreams: slices.Clone(spec.Upstreams), MACAddress: spec.MACAddress,
	}
	b.eps[container] = append(b.eps[container], ep)
	return cloneEndpoint(*ep), nil
}

func validBinding(pb PortBinding) error {
	switch {
	case pb.Proto != "tcp" && pb.Proto != "udp":
		return errdefs.InvalidParameter(fmt.Sprintf("invalid proto: %s", pb.Proto))
	case pb.ContainerPort == 0:
		return errdefs.InvalidParameter("invalid port: 0")
	case pb.HostPortEnd != 0 && pb.HostPortEnd < pb.HostPort:
		return errdefs.InvalidParameter(fmt.Sprintf("invalid port range: %d-%d", pb.HostPort, pb.HostPortEnd))
	case pb.HostIP.IsValid() && !pb.HostIP.Is4():
		return errdefs.NotImplemented(fmt.Sprintf("publishing on %s: only IPv4 host addresses are supported", pb.HostIP))
	}
	return nil
}

// Endpoints returns copies of the container's endpoints.
func (b *Book) Endpoints(container string) []Endpoint {
	var out []Endpoint
	for _, ep := range b.eps[container] {
		out = append(out, cloneEndpoint(*ep))
	}
	return out
}

// Containers lists the containers that have endpoints.
func (b *Book) Containers() []string {
	var out []string
	for c := range b.eps {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Leave forgets the container's endpoint on network ("" for all),
// deactivating it first.
func (b *Book) Leave(container, network string, pb PortBinder) error {
	var netID string
	if network != "" {
		n, err := b.Network(network)
		if err != nil {
			return err
		}
		netID = n.ID
	}
	var keep []*Endpoint
	for _, ep := range b.eps[container] {
		if netID != "" && ep.Network != netID {
			keep = append(keep, ep)
			continue
		}
		b.deactivate(ep, pb)
	}
	if len(keep) == 0 {
		delete(b.eps, container)
	} else {
		b.eps[container] = keep
	}
	return nil
}

// Attach activates the container's endpoints and returns their NICs. On
// failure nothing stays allocated.
func (b *Book) Attach(container string, pb PortBinder) ([]compute.NIC, error) {
	var nics []compute.NIC
	eps := b.eps[container]
	for i, ep := range eps {
		if ep.Active {
			b.deactivate(ep, pb)
		}
		if err := b.activate(ep, pb); err != nil {
			for _, done := range eps[:i] {
				b.deactivate(done, pb)
			}
			return nil, err
		}
		n, _ := b.Network(ep.Network)
		nic := compute.NIC{Network: n.Name, Bridge: n.Bridge, MAC: ep.MAC, Address: ep.Address, Address6: ep.Address6}
		if i == 0 && !n.Internal {
			nic.Gateway = ep.Gateway // one default route: the first network's
			nic.Gateway6 = ep.Gateway6
		}
		nic.DNS = offeredDNS(n, ep)
		guestFirewall(n, ep, &nic)
		nics = append(nics, nic)
	}
	return nics, nil
}

// Activate activates the container's endpoint on network alone (a
// running container connected to one more network), with mac for its NIC
// (the MAC of the spare NIC it gets). On failure nothing stays allocated.
func (b *Book) Activate(container, network, mac string, pb PortBinder) (compute.NIC, error) {
	n, err := b.Network(network)
	if err != nil {
		return compute.NIC{}, err
	}
	for _, ep := range b.eps[container] {
		if ep.Network != n.ID {
			continue
		}
		if ep.Active {
			return compute.NIC{}, errdefs.Conflict(fmt.Sprintf("container %s is already active on network %s", container, n.Name))
		}
		if err := b.activate(ep, pb); err != nil {
			return compute.NIC{}, err
		}
		if mac != "" {
			ep.MAC = mac
		}
		nic := compute.NIC{Network: n.Name, Bridge: n.Bridge, MAC: ep.MAC, Address: ep.Address, Address6: ep.Address6}
		nic.DNS = offeredDNS(n, ep)
		guestFirewall(n, ep, &nic)
		return nic, nil
	}
	return compute.NIC{}, errdefs.NotFound(fmt.Sprintf("container %s is not joined to network %s", container, n.Name))
}

// guestFirewall fills in what a guest needs to enforce a container
// network's firewall level itself (on vSphere no host of the VCH is in
// the path; the local provider enforces the level on the host and the
// guest ignores these fields): the level, the network's subnets and the
// container ports the endpoint publishes.
func guestFirewall(n Network, ep *Endpoint, nic *compute.NIC) {
	if !n.Container {
		return
	}
	nic.Firewall = n.Firewall
	if nic.Firewall == "" {
		nic.Firewall = FirewallPublished
	}
	nic.Peers = []netip.Prefix{n.Subnet.Masked()}
	if n.Subnet6.IsValid() {
		nic.Peers = append(nic.Peers, n.Subnet6.Masked())
	}
	for _, p := range ep.Ports {
		gp := compute.GuestPort{Proto: p.Proto, Port: p.ContainerPort}
		if !slices.Contains(nic.Published, gp) {
			nic.Published = append(nic.Published, gp)
		}
	}
}

// offeredDNS is the name server a NIC's guest should use: the network's
// DNS on its gateway. On a user-defined network always (it answers
// container names and forwards the rest, to the container's --dns if it
// has any); on the default bridge only for a container without --dns
// (there the DNS only forwards, and --dns goes to resolv.conf as given,
// as docker does).
func offeredDNS(n Network, ep *Endpoint) []netip.Addr {
	if n.Container {
		if len(ep.Upstreams) > 0 {
			return nil // --dns goes to resolv.conf as given
		}
		if n.DNSAddr.IsValid() {
			return []netip.Addr{n.DNSAddr} // the provider's, forwarding to n.DNS
		}
		return slices.Clone(n.DNS) // its own name servers
	}
	if !n.UserDefined && len(ep.Upstreams) > 0 {
		return nil
	}
	return []netip.Addr{n.Gateway}
}

// Detach deactivates the container's endpoints; it reports whether
// anything changed.
func (b *Book) Detach(container string, pb PortBinder) bool {
	changed := false
	for _, ep := range b.eps[container] {
		if ep.Active {
			b.deactivate(ep, pb)
			changed = true
		}
	}
	return changed
}

func (b *Book) activate(ep *Endpoint, pb PortBinder) error {
	n, err := b.Network(ep.Network)
	if err != nil {
		return err
	}
	pool := b.pools[n.ID]
	var addr netip.Addr
	if ep.IPv4.IsValid() {
		if err := pool.Claim(ep.IPv4, ep.Container); err != nil {
			return err
		}
		addr = ep.IPv4
	} else if addr, err = pool.Allocate(ep.Container); err != nil {
		return err
	}
	ep.Active = true
	ep.Address = netip.PrefixFrom(addr, n.Subnet.Bits())
	ep.Gateway = n.Gateway
	ep.MAC = MACFor(addr)
	if ep.MACAddress != "" {
		ep.MAC = ep.MACAddress
	}
	ep.Bound = nil
	if p6 := b.pools6[n.ID]; p6 != nil {
		a6, err := ep.IPv6, error(nil)
		if a6.IsValid() {
			err = p6.Claim(a6, ep.Container)
		} else {
			a6, err = p6.Allocate(ep.Container)
		}
		if err != nil {
			b.deactivate(ep, pb)
			return err
		}
		ep.Address6, ep.Gateway6 = netip.PrefixFrom(a6, n.Subnet6.Bits()), n.Gateway6
	}
	if n.Container {
		// The container's own address is reachable: -p opens its port
		// in the network's firewall, no host port is taken.
		for _, want := range ep.Ports {
			ep.Bound = append(ep.Bound, PortBinding{Proto: want.Proto, ContainerPort: want.ContainerPort, HostIP: addr, HostPort: want.ContainerPort})
		}
		return nil
	}
	for _, want := range ep.Ports {
		got, err := b.bind(*ep, want, pb)
		if err != nil {
			b.deactivate(ep, pb)
			return err
		}
		ep.Bound = append(ep.Bound, got)
	}
	return nil
}

// bind checks the book's own bindings before asking the binder, trying
// each port of a range in turn.
func (b *Book) bind(ep Endpoint, want PortBinding, pb PortBinder) (PortBinding, error) {
	if want.HostPortEnd == 0 || want.HostPort == 0 {
		if want.HostPort != 0 && b.inUse(want) {
			return PortBinding{}, PortAllocatedError(want)
		}
		return pb.Bind(ep, want)
	}
	var last error
	for p := int(want.HostPort); p <= int(want.HostPortEnd); p++ {
		try := want
		try.HostPort, try.HostPortEnd = uint16(p), 0
		if b.inUse(try) {
			last = PortAllocatedError(try)
			continue
		}
		got, err := pb.Bind(ep, try)
		if err == nil {
			return got, nil
		}
		last = err
	}
	return PortBinding{}, last
}

// inUse tells whether an active endpoint holds a binding that overlaps want.
func (b *Book) inUse(want PortBinding) bool {
	for _, eps := range b.eps {
		for _, ep := range eps {
			if b.containerNet(ep.Network) {
				continue // no host port
			}
			for _, have := range ep.Bound {
				if have.Proto == want.Proto && have.HostPort == want.HostPort &&
					(!have.HostIP.IsValid() || !want.HostIP.IsValid() || have.HostIP == want.HostIP) {
					return true
				}
			}
		}
	}
	return false
}

func (b *Book) deactivate(ep *Endpoint, pb PortBinder) {
	if !b.containerNet(ep.Network) {
		for _, bd := range ep.Bound {
			pb.Unbind(*ep, bd)
		}
	}
	if ep.Address.IsValid() {
		if p := b.pools[ep.Network]; p != nil {
			p.Release(ep.Address.Addr())
		}
	}
	if ep.Address6.IsValid() {
		if p := b.pools6[ep.Network]; p != nil {
			p.Release(ep.Address6.Addr())
		}
	}
	ep.Active, ep.Bound, ep.MAC = false, nil, ""
	ep.Address, ep.Gateway = netip.Prefix{}, netip.Addr{}
	ep.Address6, ep.Gateway6 = netip.Prefix{}, netip.Addr{}
}

// Leases counts the addresses (IPv4 and IPv6) leased on every network.
func (b *Book) Leases() int {
	n := 0
	for _, p := range b.pools {
		n += len(p.leases)
	}
	for _, p := range b.pools6 {
		n += len(p.leases)
	}
	return n
}

// NewID returns 64 random hex digits.
func NewID() string {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(raw[:])
}
