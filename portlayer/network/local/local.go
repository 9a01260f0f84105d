// Package local is the network provider of a VCH on one Linux host: the
// NAT network "bridge" is a Linux bridge with the network's gateway
// address, outbound traffic is masqueraded (iptables), and published ports
// are served by a userland proxy in vchd that forwards to the container's
// address. IPAM and endpoints are persisted in Root/network.json.
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

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
)

// stateFile holds the Book beside the VCH's other state.
const stateFile = "network.json"

// Config configures the local provider.
type Config struct {
	Root   string       // state directory
	Range  netip.Prefix // where the bridge's /16 comes from; zero: network.DefaultBridgeRange
	Logger *zap.Logger
}

// Provider is the local network provider.
type Provider struct {
	cfg     Config
	log     *zap.Logger
	mu      sync.Mutex
	book    *network.Book
	proxies map[string]*proxy // endpoint ID + binding -> proxy
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
	p := &Provider{cfg: cfg, log: cfg.Logger, proxies: map[string]*proxy{}}
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
	for _, n := range p.book.Networks() {
		if err := setupHost(n); err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
	}
	if err := p.save(); err != nil {
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

// newBridgeNetwork picks the first /16 of the range that no route of the
// host overlaps.
func newBridgeNetwork(cfg Config) (network.Network, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return network.Network{}, fmt.Errorf("list routes: %w", err)
	}
	bits := 16
	if cfg.Range.Bits() > 16 {
		bits = cfg.Range.Bits()
	}
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
			return network.Network{
				ID: network.NewID(), Name: network.BridgeName, Driver: "bridge",
				Subnet: sub, Gateway: sub.Addr().Next(), Bridge: BridgeName(cfg.Root),
				Created: time.Now().UTC(),
			}, nil
		}
	}
	return network.Network{}, errdefs.Unavailable(fmt.Sprintf("no free /%d in bridge network range %s", bits, cfg.Range))
}

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
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bridge %s up: %w", n.Bridge, err)
	}
	if err := enableForwarding(); err != nil {
		return err
	}
	return ensureRules(rules(n.Bridge, n.Subnet.String()))
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
	for _, n := range st.Networks {
		if link, err := netlink.LinkByName(n.Bridge); err == nil {
			if err := netlink.LinkDel(link); err != nil {
				errs = append(errs, fmt.Errorf("delete bridge %s: %w", n.Bridge, err))
			}
		}
		if err := deleteRules(rules(n.Bridge, n.Subnet.String())); err != nil {
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
	p.commit()
	return nics, err
}

func (p *Provider) Detach(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.book.Detach(id, (*binder)(p)) {
		p.commit()
	}
	return nil
}

// Close stops the listeners; leases and bindings stay recorded for the
// next vchd.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, px := range p.proxies {
		px.close()
		delete(p.proxies, k)
	}
	return nil
}

// Counts reports what the provider holds: leases and listening proxies.
func (p *Provider) Counts() (leases, proxies int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.Leases(), len(p.proxies)
}

// binder makes bindings real with proxies. Used with p.mu held.
type binder Provider

func proxyKey(ep network.Endpoint, b network.PortBinding) string {
	return ep.ID + "/" + b.String()
}

func (bd *binder) Bind(ep network.Endpoint, b network.PortBinding) (network.PortBinding, error) {
	p := (*Provider)(bd)
	px, got, err := listen(b, netip.AddrPortFrom(ep.Address.Addr(), b.ContainerPort), p.log)
	if err != nil {
		return network.PortBinding{}, err
	}
	p.proxies[proxyKey(ep, got)] = px
	return got, nil
}

func (bd *binder) Unbind(ep network.Endpoint, b network.PortBinding) {
	p := (*Provider)(bd)
	if px := p.proxies[proxyKey(ep, b)]; px != nil {
		px.close()
		delete(p.proxies, proxyKey(ep, b))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
