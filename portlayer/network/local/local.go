// Package local is the network provider of a VCH on one Linux host: the
// NAT network "bridge" is a Linux bridge with the network's gateway
// address, outbound traffic is masqueraded (iptables), and published ports
// are DNAT rules to the container's address, with a userland proxy in vchd
// that holds the port and serves what the rules leave (dnat.go). IPAM and endpoints are persisted in Root/network.json.
package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/network/nameserver"
	"github.com/vchproject/vch/portlayer/network/portproxy"
)

// stateFile holds the Book beside the VCH's other state.
const stateFile = "network.json"

// Config configures the local provider.
type Config struct {
	Root   string       // state directory
	Range  netip.Prefix // where the bridge's /16 comes from; zero: network.DefaultBridgeRange
	Logger *zap.Logger
	// DNSUpstreams are the resolvers user-defined networks' DNS forwards
	// to (host:port); nil: the host's /etc/resolv.conf.
	DNSUpstreams []string
	// ContainerNetworks are the VCH's container networks (vic-machine
	// --container-network); the state follows them at every start.
	ContainerNetworks []network.ContainerNetworkSpec
	// BridgeIPv6 is the default bridge's IPv6 subnet (vic-machine
	// --bridge-network-ipv6-range); zero: the bridge is IPv4-only.
	BridgeIPv6 netip.Prefix
}

// Provider is the local network provider.
type Provider struct {
	cfg     Config
	log     *zap.Logger
	mu      sync.Mutex
	book    *network.Book
	chain   string                        // nat chain of the DNAT rules (dnat.go)
	proxies map[string]*portproxy.Proxy   // endpoint ID + binding -> proxy
	dns     map[string]*nameserver.Server // network ID -> its DNS
	closed  bool
}

var _ network.Provider = (*Provider)(nil)

// New opens the state under cfg.Root (choosing the bridge subnet on first
// use), makes sure the bridge, forwarding and the NAT rules exist, and
// re-creates the port bindings of active endpoints.
func New(cfg Config) (*Provider, error) {
	if cfg.Root == "" {
		return nil, errdefs.InvalidParameter("network provider: Root is required")
	}
	if !cfg.Range.IsValid() {
		cfg.Range = network.DefaultBridgeRange
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("network state dir: %w", err)
	}
	p := &Provider{cfg: cfg, log: cfg.Logger, chain: natChain(cfg.Root), proxies: map[string]*portproxy.Proxy{}, dns: map[string]*nameserver.Server{}}
	st, err := loadState(cfg.Root)
	if err != nil {
		return nil, err
	}
	if st == nil {
		br, err := newBridgeNetwork(cfg)
		if err != nil {
			return nil, err
		}
		st = &network.BookState{Networks: []network.Network{br}}
	}
	if p.book, err = network.LoadBook(*st); err != nil {
		return nil, err
	}
	removed, kept, err := p.book.SetContainerNetworks(cfg.ContainerNetworks)
	if err != nil {
		return nil, err
	}
	for _, n := range removed {
		if err := teardownContainerHost(n); err != nil {
			p.log.Warn("remove container network", zap.String("name", n.Name), zap.Error(err))
		}
		p.log.Info("removed container network", zap.String("name", n.Name))
	}
	for _, name := range kept {
		p.log.Warn("container network no longer configured is kept while containers are on it", zap.String("name", name))
	}
	old, changed, err := p.book.SetBridgeIPv6(cfg.BridgeIPv6)
	if err != nil {
		return nil, err
	}
	if changed && old.Subnet6.IsValid() {
		if err := teardownHost6(old); err != nil {
			p.log.Warn("remove the bridge's former IPv6 subnet", zap.Stringer("subnet", old.Subnet6), zap.Error(err))
		}
	}
	for _, n := range p.book.Networks() {
		if n.Container {
			made, err := setupContainerHost(n)
			if made {
				p.book.SetOwnBridge(n.ID)
			}
			if err != nil {
				p.stopDNS()
				return nil, fmt.Errorf("container network %s: %w", n.Name, err)
			}
			p.startContainerDNS(n)
			continue
		}
		if err := setupHost(n); err != nil {
			p.stopDNS()
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		if err := p.startDNS(n); err != nil {
			if n.UserDefined {
				p.stopDNS()
				return nil, fmt.Errorf("network %s: %w", n.Name, err)
			}
			// The default bridge's DNS only forwards: without it,
			// its containers get no name server (see withDNS).
			p.log.Warn("no DNS on the default bridge", zap.Error(err))
		}
	}
	if err := p.save(); err != nil {
		p.stopDNS()
		return nil, err
	}
	if err := p.syncFirewall(); err != nil {
		p.stopDNS()
		return nil, err
	}
	if err := ensureNATChain(p.chain); err != nil {
		p.stopDNS()
		return nil, err
	}
	p.rebind()
	return p, nil
}

// BridgeName is the host bridge of a VCH whose network state is in root.
func BridgeName(root string) string {
	abs, _ := filepath.Abs(root)
	sum := sha256.Sum256([]byte(abs))
	return "vchb" + hex.EncodeToString(sum[:])[:10]
}

// freeSubnets lists the /16s of the range (or the range itself, if
// smaller) that no route of the host overlaps.
func freeSubnets(cfg Config) ([]netip.Prefix, int, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, 0, fmt.Errorf("list routes: %w", err)
	}
	bits := 16
	if cfg.Range.Bits() > 16 {
		bits = cfg.Range.Bits()
	}
	var out []netip.Prefix
	for _, sub := range network.SubnetsOf(cfg.Range, bits) {
		taken := false
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			if ones == 0 {
				continue // the default route
			}
			a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
			if ok && netip.PrefixFrom(a, ones).Overlaps(sub) {
				taken = true
				break
			}
		}
		if !taken {
			out = append(out, sub)
		}
	}
	return out, bits, nil
}

// newBridgeNetwork picks the first /16 of the range that no route of the
// host overlaps.
func newBridgeNetwork(cfg Config) (network.Network, error) {
	subs, bits, err := freeSubnets(cfg)
	if err != nil {
		return network.Network{}, err
	}
	if len(subs) == 0 {
		return network.Network{}, errdefs.Unavailable(fmt.Sprintf("no free /%d in bridge network range %s", bits, cfg.Range))
	}
	sub := subs[0]
	return network.Network{
		ID: network.NewID(), Name: network.BridgeName, Driver: "bridge",
		Subnet: sub, Gateway: sub.Addr().Next(), Bridge: BridgeName(cfg.Root),
		Created: time.Now().UTC(),
	}, nil
}

// userBridgeName is the host bridge of a user-defined network.
func userBridgeName(id string) string { return "vchn" + id[:10] }

// setupHost makes the bridge (with the gateway address), turns on
// forwarding and adds the NAT rules.
func setupHost(n network.Network) error {
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", n.Bridge, err)
		}
		if link, err = netlink.LinkByName(n.Bridge); err != nil {
			return err
		}
	}
	addr, err := netlink.ParseAddr(netip.PrefixFrom(n.Gateway, n.Subnet.Bits()).String())
	if err != nil {
		return err
	}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("bridge %s address %s: %w", n.Bridge, addr, err)
	}
	if n.Subnet6.IsValid() {
		a6, err := netlink.ParseAddr(netip.PrefixFrom(n.Gateway6, n.Subnet6.Bits()).String())
		if err != nil {
			return err
		}
		a6.Flags |= unix.IFA_F_NODAD
		if err := netlink.AddrReplace(link, a6); err != nil {
			return fmt.Errorf("bridge %s address %s: %w", n.Bridge, a6, err)
		}
		if err := enableForwarding6(); err != nil {
			return err
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bridge %s up: %w", n.Bridge, err)
	}
	if err := enableForwarding(); err != nil {
		return err
	}
	if err := tuneBridge(n.Bridge); err != nil {
		return err
	}
	return ensureRules(rules(n))
}

// teardownHost removes a network's bridge and rules.
func teardownHost(n network.Network) error {
	if n.Container {
		return teardownContainerHost(n)
	}
	var errs []error
	if link, err := netlink.LinkByName(n.Bridge); err == nil {
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("delete bridge %s: %w", n.Bridge, err))
		}
	}
	if err := deleteRules(rules(n)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// teardownHost6 removes a network's IPv6 gateway address and ip6tables
// rules, leaving its bridge and IPv4 rules.
func teardownHost6(n network.Network) error {
	var errs []error
	if link, err := netlink.LinkByName(n.Bridge); err == nil {
		a6, err := netlink.ParseAddr(netip.PrefixFrom(n.Gateway6, n.Subnet6.Bits()).String())
		if err == nil {
			err = netlink.AddrDel(link, a6)
		}
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("bridge %s address %s: %w", n.Bridge, n.Gateway6, err))
		}
	}
	var v6 []rule
	for _, r := range rules(n) {
		if r.v6 {
			v6 = append(v6, r)
		}
	}
	if err := deleteRules(v6); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Destroy removes what the network state under root made on the host: the
// bridges and their rules (vic-machine delete). Active bindings die with
// vchd.
func Destroy(root string) error {
	st, err := loadState(root)
	if err != nil || st == nil {
		return err
	}
	var errs []error
	if err := deleteNATChain(natChain(root)); err != nil {
		errs = append(errs, err)
	}
	for _, n := range st.Networks {
		if err := teardownHost(n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(filepath.Join(root, stateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func loadState(root string) (*network.BookState, error) {
	b, err := os.ReadFile(filepath.Join(root, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("network state: %w", err)
	}
	st := new(network.BookState)
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("decode network state: %w", err)
	}
	return st, nil
}

// save writes the book atomically. Call with p.mu held (or before use).
func (p *Provider) save() error {
	b, err := json.MarshalIndent(p.book.State(), "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(p.cfg.Root, stateFile), b, 0o600); err != nil {
		return fmt.Errorf("save network state: %w", err)
	}
	return nil
}

func (p *Provider) commit() {
	if err := p.save(); err != nil {
		p.log.Error("persist network state", zap.Error(err))
	}
}

// rebind re-creates the listeners of active endpoints (vchd restart).
func (p *Provider) rebind() {
	for _, c := range p.book.Containers() {
		for _, ep := range p.book.Endpoints(c) {
			if n, err := p.book.Network(ep.Network); err != nil || n.Container {
				continue // a container network's ports are the container's own
			}
			for _, b := range ep.Bound {
				if _, err := (*binder)(p).Bind(ep, b); err != nil {
					p.log.Warn("re-create port binding", zap.String("container", c), zap.Stringer("binding", b), zap.Error(err))
				}
			}
		}
	}
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

// startContainerDNS serves DNS on a container network at the host's
// address on its bridge (the gateway if the host holds it), forwarding
// other names to the network's name servers (else the host's), and
// records where (Network.DNSAddr). Without an address of the subnet on
// the bridge, or if port 53 is taken there, the containers keep the
// network's name servers (a warning). Call before use.
func (p *Provider) startContainerDNS(n network.Network) {
	addr := hostAddrOn(n)
	if addr.IsValid() {
		var ups []string
		for _, d := range n.DNS {
			if d != addr { // the configured DNS may be this very address
				ups = append(ups, netip.AddrPortFrom(d, 53).String())
			}
		}
		if ups == nil {
			ups = p.cfg.DNSUpstreams
		}
		n.DNSAddr = addr
		if err := p.startDNSAt(n, addr, ups); err != nil {
			p.log.Warn("no DNS on the container network", zap.String("network", n.Name), zap.Error(err))
			addr = netip.Addr{}
		}
	} else {
		p.log.Info("no DNS on the container network: the host has no address of its subnet on the bridge", zap.String("network", n.Name), zap.String("bridge", n.Bridge))
	}
	p.book.SetDNSAddr(n.ID, addr)
}

// hostAddrOn is the host's IPv4 address on the container network's
// bridge within its subnet, the gateway preferred; zero if none.
func hostAddrOn(n network.Network) netip.Addr {
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return netip.Addr{}
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}
	}
	var found netip.Addr
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok || !n.Subnet.Contains(ip) {
			continue
		}
		if ip == n.Gateway {
			return ip
		}
		if !found.IsValid() {
			found = ip
		}
	}
	return found
}

// startDNS serves the embedded DNS of a user-defined network on its
// gateway address. Call with p.mu held (or before use).
func (p *Provider) startDNS(n network.Network) error {
	return p.startDNSAt(n, n.Gateway, p.cfg.DNSUpstreams)
}

func (p *Provider) startDNSAt(n network.Network, addr netip.Addr, ups []string) error {
	if p.dns[n.ID] != nil {
		return nil
	}
	srv, err := nameserver.Start(nameserver.Config{
		Addr: netip.AddrPortFrom(addr, 53), Resolver: resolver{p}, Upstreams: ups,
		Logger: p.log.Named("dns").With(zap.String("network", n.Name)),
	})
	if err != nil {
		return err
	}
	p.dns[n.ID] = srv
	return nil
}

// takeDNS empties p.dns and returns its servers for closing once p.mu is
// released (their handlers take p.mu).
func (p *Provider) takeDNS() []*nameserver.Server {
	var out []*nameserver.Server
	for id, s := range p.dns {
		out = append(out, s)
		delete(p.dns, id)
	}
	return out
}

func (p *Provider) stopDNS() {
	for _, s := range p.takeDNS() {
		s.Close()
	}
}

// resolver serves the name servers; it takes p.mu itself.
type resolver struct{ p *Provider }

func (r resolver) Resolve(ctx context.Context, from netip.Addr, name string) ([]netip.Addr, error) {
	return r.p.Resolve(ctx, from, name)
}

func (r resolver) Upstreams(ctx context.Context, from netip.Addr) []netip.AddrPort {
	return r.p.Upstreams(ctx, from)
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

// CreateNetwork makes a user-defined network: its own bridge, rules and
// DNS. A zero subnet is the first /16 of the bridge range that no network
// or route of the host uses. On failure nothing is left.
func (p *Provider) CreateNetwork(_ context.Context, spec network.NetworkSpec) (network.Network, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var auto []netip.Prefix
	if !spec.Subnet.IsValid() {
		subs, _, err := freeSubnets(p.cfg)
		if err != nil {
			return network.Network{}, err
		}
		auto = subs
	}
	id := network.NewID()
	n, err := p.book.CreateNetwork(spec, id, userBridgeName(id), auto)
	if err != nil {
		return network.Network{}, err
	}
	err = setupHost(n)
	if err == nil {
		err = p.startDNS(n)
	}
	if err == nil {
		err = p.save()
	}
	if err != nil {
		p.undoCreate(n)
		return network.Network{}, fmt.Errorf("create network %s: %w", n.Name, err)
	}
	p.log.Info("created network", zap.String("name", n.Name), zap.Stringer("subnet", n.Subnet), zap.String("bridge", n.Bridge))
	return n, nil
}

func (p *Provider) undoCreate(n network.Network) {
	if s := p.dns[n.ID]; s != nil {
		s.Close() // never served a query: the network was not saved
		delete(p.dns, n.ID)
	}
	if err := teardownHost(n); err != nil {
		p.log.Warn("undo network create", zap.String("name", n.Name), zap.Error(err))
	}
	if _, err := p.book.RemoveNetwork(n.ID); err != nil {
		p.log.Warn("undo network create", zap.String("name", n.Name), zap.Error(err))
	}
}

// RemoveNetwork removes a user-defined network nobody is joined to, with
// its bridge, rules and DNS.
func (p *Provider) RemoveNetwork(_ context.Context, nameOrID string) error {
	var stop *nameserver.Server
	defer func() {
		if stop != nil {
			stop.Close() // after unlocking: its handlers take p.mu
		}
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.book.RemoveNetwork(nameOrID)
	if err != nil {
		return err
	}
	stop = p.dns[n.ID]
	delete(p.dns, n.ID)
	p.commit()
	if err := teardownHost(n); err != nil {
		p.log.Warn("remove network: host side", zap.String("name", n.Name), zap.Error(err))
	}
	p.log.Info("removed network", zap.String("name", n.Name))
	return nil
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
	err := p.book.Leave(container, net, (*binder)(p))
	p.commit()
	p.syncFirewallOrWarn()
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
	if p.closed {
		return nil, errdefs.Unavailable("network provider closed")
	}
	nics, err := p.book.Attach(id, (*binder)(p))
	if err == nil {
		// The firewall holds before the VM can send a packet.
		if err = p.syncFirewall(); err != nil {
			p.book.Detach(id, (*binder)(p))
			p.syncFirewallOrWarn()
		}
	}
	p.commit()
	if err != nil {
		return nil, err
	}
	for i := range nics {
		nics[i] = p.withDNS(nics[i])
	}
	return nics, nil
}

// withDNS drops the name server of a NIC whose network has no DNS server
// running (the default bridge's could not bind). Call with p.mu held.
func (p *Provider) withDNS(nic compute.NIC) compute.NIC {
	if n, err := p.book.Network(nic.Network); err == nil && !n.Container && p.dns[n.ID] == nil {
		nic.DNS = nil
	}
	return nic
}

func (p *Provider) Activate(_ context.Context, container, net, mac string) (compute.NIC, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	nic, err := p.book.Activate(container, net, mac, (*binder)(p))
	if err == nil {
		if err = p.syncFirewall(); err != nil {
			_ = p.book.Leave(container, net, (*binder)(p))
			p.syncFirewallOrWarn()
		}
	}
	if err == nil {
		p.commit()
		nic = p.withDNS(nic)
	}
	return nic, err
}

func (p *Provider) Detach(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.book.Detach(id, (*binder)(p)) {
		p.commit()
		p.syncFirewallOrWarn()
	}
	return nil
}

// syncFirewall rewrites the firewall chains of every container network
// for the containers active on it now. Call with p.mu held.
func (p *Provider) syncFirewall() error {
	var nets []network.Network
	for _, n := range p.book.Networks() {
		if n.Container {
			nets = append(nets, n)
		}
	}
	if len(nets) == 0 {
		return nil
	}
	members := map[string][]firewallMember{}
	for _, c := range p.book.Containers() {
		for _, ep := range p.book.Endpoints(c) {
			if ep.Active && ep.Address.IsValid() {
				members[ep.Network] = append(members[ep.Network], firewallMember{addr: ep.Address.Addr(), ports: ep.Bound})
			}
			if ep.Active && ep.Address6.IsValid() {
				members[ep.Network] = append(members[ep.Network], firewallMember{addr: ep.Address6.Addr(), ports: ep.Bound})
			}
		}
	}
	if err := iptablesRestore(restoreInput(nets, members, false), false); err != nil {
		return fmt.Errorf("container network firewall: %w", err)
	}
	for _, n := range nets {
		if n.Subnet6.IsValid() {
			if err := iptablesRestore(restoreInput(nets, members, true), true); err != nil {
				return fmt.Errorf("container network IPv6 firewall: %w", err)
			}
			break
		}
	}
	return nil
}

func (p *Provider) syncFirewallOrWarn() {
	if err := p.syncFirewall(); err != nil {
		p.log.Error("container network firewall", zap.Error(err))
	}
}

// Close stops the listeners; leases and bindings stay recorded for the
// next vchd.
func (p *Provider) Close() error {
	p.mu.Lock()
	p.closed = true
	servers := p.takeDNS()
	for k, px := range p.proxies {
		px.Close()
		delete(p.proxies, k)
	}
	p.mu.Unlock()
	for _, s := range servers {
		s.Close() // unlocked: their handlers take p.mu
	}
	return nil
}

// Counts reports what the provider holds: leases and listening proxies.
func (p *Provider) Counts() (leases, proxies int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.Leases(), len(p.proxies)
}

// binder makes bindings real: a DNAT rule for the data path and a proxy
// that holds the port (dnat.go). Used with p.mu held.
type binder Provider

func proxyKey(ep network.Endpoint, b network.PortBinding) string {
	return ep.ID + "/" + b.String()
}

func (bd *binder) Bind(ep network.Endpoint, b network.PortBinding) (network.PortBinding, error) {
	p := (*Provider)(bd)
	backend := netip.AddrPortFrom(ep.Address.Addr(), b.ContainerPort)
	px, got, err := portproxy.Listen(b, backend, p.log)
	if err != nil {
		return network.PortBinding{}, err
	}
	if err := addDNAT(p.chain, got, backend); err != nil {
		px.Close()
		return network.PortBinding{}, err
	}
	p.proxies[proxyKey(ep, got)] = px
	return got, nil
}

func (bd *binder) Unbind(ep network.Endpoint, b network.PortBinding) {
	p := (*Provider)(bd)
	if err := delDNAT(p.chain, b, netip.AddrPortFrom(ep.Address.Addr(), b.ContainerPort)); err != nil {
		p.log.Warn("withdraw published port", zap.Stringer("binding", b), zap.Error(err))
	}
	if px := p.proxies[proxyKey(ep, b)]; px != nil {
		px.Close()
		delete(p.proxies, proxyKey(ep, b))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
