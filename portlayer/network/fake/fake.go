// Package fake is an in-memory network.Provider for tests above the port
// layer. It keeps the same books as the local provider (IPAM, endpoints,
// bindings) but touches no host network: bindings are recorded, host port
// 0 gets the next port from 32768.
package fake

import (
	"context"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
)

// Store is what a fake keeps across Reopen, as a provider's disk would.
type Store struct {
	mu    sync.Mutex
	state *network.BookState
}

// Provider is the in-memory network.
type Provider struct {
	store *Store
	mu    sync.Mutex
	book  *network.Book
	ports *ports
}

var _ network.Provider = (*Provider)(nil)

// New returns a fake with one bridge network on 172.16.0.0/16.
func New() *Provider {
	p, err := Open(&Store{})
	if err != nil {
		panic(err)
	}
	return p
}

// Open returns a fake over store, as it was left by the last provider on it.
func Open(store *Store) (*Provider, error) {
	store.mu.Lock()
	defer store.mu.Unlock()
	var book *network.Book
	var err error
	if store.state == nil {
		book, err = network.NewBook(network.Network{
			ID: network.NewID(), Name: network.BridgeName, Driver: "bridge",
			Subnet:  netip.MustParsePrefix("172.16.0.0/16"),
			Gateway: netip.MustParseAddr("172.16.0.1"),
			Bridge:  "fakebr0", Created: time.Now().UTC(),
		})
	} else {
		book, err = network.LoadBook(*store.state)
	}
	if err != nil {
		return nil, err
	}
	p := &Provider{store: store, book: book, ports: &ports{next: 32768, used: map[string]bool{}}}
	for _, c := range book.Containers() {
		for _, ep := range book.Endpoints(c) {
			for _, b := range ep.Bound {
				p.ports.used[key(b)] = true
			}
		}
	}
	p.save()
	return p, nil
}

// Reopen returns a new fake over the same store (a vchd restart).
func (p *Provider) Reopen() (network.Provider, error) { return Open(p.store) }

func (p *Provider) save() {
	s := p.book.State()
	p.store.state = &s
}

func (p *Provider) Networks(context.Context) ([]network.Network, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.Networks(), nil
}

func (p *Provider) Network(_ context.Context, nameOrID string) (network.Network, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.Network(nameOrID)
}

// CreateNetwork adds a user-defined network; a zero subnet is the next
// free /16 of 172.16.0.0/12.
func (p *Provider) CreateNetwork(_ context.Context, spec network.NetworkSpec) (network.Network, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := network.NewID()
	n, err := p.book.CreateNetwork(spec, id, "fakebr"+id[:8], network.SubnetsOf(network.DefaultBridgeRange, 16))
	if err == nil {
		p.commit()
	}
	return n, err
}

func (p *Provider) RemoveNetwork(_ context.Context, nameOrID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.book.RemoveNetwork(nameOrID)
	if err == nil {
		p.commit()
	}
	return err
}

func (p *Provider) Upstreams(_ context.Context, from netip.Addr) []netip.AddrPort {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.Upstreams(from)
}

func (p *Provider) Resolve(_ context.Context, from netip.Addr, name string) ([]netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.Resolve(from, name)
}

func (p *Provider) Rename(_ context.Context, container, old, new string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.book.Rename(container, old, new)
	p.commit()
	return nil
}

func (p *Provider) Join(_ context.Context, container string, spec network.EndpointSpec) (network.Endpoint, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep, err := p.book.Join(container, spec)
	if err == nil {
		p.commit()
	}
	return ep, err
}

func (p *Provider) Leave(_ context.Context, container, net string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.book.Leave(container, net, p.ports)
	p.commit()
	return err
}

func (p *Provider) Containers(context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.Containers(), nil
}

func (p *Provider) Endpoints(_ context.Context, container string) ([]network.Endpoint, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.Endpoints(container), nil
}

func (p *Provider) Attach(_ context.Context, id string) ([]compute.NIC, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	nics, err := p.book.Attach(id, p.ports)
	p.commit()
	return nics, err
}

func (p *Provider) Activate(_ context.Context, container, net, mac string) (compute.NIC, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	nic, err := p.book.Activate(container, net, mac, p.ports)
	if err == nil {
		p.commit()
	}
	return nic, err
}

func (p *Provider) Detach(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.book.Detach(id, p.ports) {
		p.commit()
	}
	return nil
}

func (p *Provider) Close() error { return nil }

func (p *Provider) commit() {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.save()
}

// ports pretends to bind host ports.
type ports struct {
	next uint16
	used map[string]bool
}

func key(b network.PortBinding) string {
	return b.Proto + ":" + itoa(int(b.HostPort))
}

func itoa(n int) string { return strconv.Itoa(n) }

func (ps *ports) Bind(_ network.Endpoint, b network.PortBinding) (network.PortBinding, error) {
	if b.HostPort == 0 {
		for ps.used[key(network.PortBinding{Proto: b.Proto, HostPort: ps.next})] {
			ps.next++
		}
		b.HostPort = ps.next
		ps.next++
	}
	if ps.used[key(b)] {
		return network.PortBinding{}, network.PortAllocatedError(b)
	}
	ps.used[key(b)] = true
	return b, nil
}

func (ps *ports) Unbind(_ network.Endpoint, b network.PortBinding) { delete(ps.used, key(b)) }
