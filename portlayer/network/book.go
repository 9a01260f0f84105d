package network

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

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
	pools    map[string]*Pool // network ID -> pool
	eps      map[string][]*Endpoint
}

// BookState is a Book's persistent form.
type BookState struct {
	Networks  []Network              `json:"networks"`
	Endpoints map[string][]*Endpoint `json:"endpoints"`
}

// NewBook returns a Book of nets (no endpoints).
func NewBook(nets ...Network) (*Book, error) {
	b := &Book{pools: map[string]*Pool{}, eps: map[string][]*Endpoint{}}
	for _, n := range nets {
		p, err := NewPool(n.Subnet, n.Gateway)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		b.networks = append(b.networks, n)
		b.pools[n.ID] = p
	}
	return b, nil
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
	for _, pb := range spec.Ports {
		if err := validBinding(pb); err != nil {
			return Endpoint{}, err
		}
	}
	ep := &Endpoint{ID: NewID(), Container: container, Network: n.ID, Aliases: slices.Clone(spec.Aliases), Ports: slices.Clone(spec.Ports)}
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
		nics = append(nics, compute.NIC{Network: n.Name, Bridge: n.Bridge, MAC: ep.MAC, Address: ep.Address, Gateway: ep.Gateway})
	}
	return nics, nil
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
	addr, err := pool.Allocate(ep.Container)
	if err != nil {
		return err
	}
	ep.Active = true
	ep.Address = netip.PrefixFrom(addr, n.Subnet.Bits())
	ep.Gateway = n.Gateway
	ep.MAC = MACFor(addr)
	ep.Bound = nil
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
	for _, bd := range ep.Bound {
		pb.Unbind(*ep, bd)
	}
	if ep.Address.IsValid() {
		if p := b.pools[ep.Network]; p != nil {
			p.Release(ep.Address.Addr())
		}
	}
	ep.Active, ep.Bound, ep.MAC = false, nil, ""
	ep.Address, ep.Gateway = netip.Prefix{}, netip.Addr{}
}

// Leases counts the addresses leased on every network.
func (b *Book) Leases() int {
	n := 0
	for _, p := range b.pools {
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
