// Package vsnetwork is the vSphere network provider. Networks are port
// groups and every endpoint is a vmxnet3 NIC of the container VM on its
// network's port group (vscompute makes the NICs from what Attach
// returns):
//
//   - bridge: the VCH's bridge port group (a distributed port group that
//     vic-machine checked no other VCH uses); its gateway is the VCH
//     endpoint's leg on it.
//   - user-defined networks (docker network create): a distributed port
//     group made on the bridge port group's switch, named
//     VCH-<network ID[:12]>, destroyed by RemoveNetwork.
//   - container networks (vic-machine --container-network): existing
//     port groups named in the VCH's configuration.
//
// Addresses, endpoints and DNS names are the shared network.Book;
// published ports are forwarders on the VCH endpoint, and each bridge or
// user-defined network's DNS is served on its gateway where that is an
// address of this host (the endpoint VM's leg on the port group). The book is kept
// on the datastore, "[ds] FOLDER/network.json", written after every
// change, so a restarted vchd (or another endpoint VM) finds leases and
// networks as they were.
package vsnetwork

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/network/nameserver"
	"github.com/vchproject/vch/portlayer/network/portproxy"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
)

const stateFile = "network.json"

// ContainerNetwork is one container network of the VCH's configuration:
// the docker side (Spec.Name, addressing, firewall level) and the port
// group its NICs are on. Spec.Bridge is ignored.
type ContainerNetwork struct {
	Spec      network.ContainerNetworkSpec
	PortGroup string
}

// Config places one VCH's networks.
type Config struct {
	Session *vsession.Session
	// VCH names the VCH (the prefix of the port groups it makes).
	VCH string
	// State is the datastore folder of the book, "[datastore] folder".
	State string
	// BridgePortGroup is the bridge network's port group.
	BridgePortGroup string
	// BridgeRange is the bridge network's subnet, or where its /16 comes
	// from if larger (zero: network.DefaultBridgeRange, so 172.16.0.0/16);
	// user-defined networks take /16s of network.DefaultBridgeRange.
	BridgeRange       netip.Prefix
	ContainerNetworks []ContainerNetwork
	// DNSUpstreams are host:port resolvers the networks' DNS forwards
	// other names to; nil: /etc/resolv.conf's.
	DNSUpstreams []string
	Logger       *zap.Logger
	// Endpoint is the name of the VM vchd runs in, the VCH's endpoint
	// VM, which gets a NIC on each user-defined network's port group as
	// that network's gateway (legs.go); "": vchd runs elsewhere and makes
	// no legs. Legs configures those NICs in the guest (nil: not at all).
	Endpoint string
	Legs     Legs
}

// Provider implements network.Provider on port groups.
type Provider struct {
	cfg   Config
	s     *vsession.Session
	log   *zap.Logger
	ds    *object.Datastore
	state string // path of the book on ds

	// cmu serializes network creates and removes, which hold it across
	// their slow vSphere work (port group, the endpoint's leg) and take
	// mu only to read and change the book, so DNS answers, joins and
	// lists never wait for a hot-added NIC. Take cmu before mu.
	cmu sync.Mutex

	mu     sync.Mutex
	book   *network.Book
	fwd    map[string]*portproxy.Proxy
	dns    map[string]*nameserver.Server // network ID -> its DNS
	pgs    map[string]string             // host-side token of a container network -> port group
	closed bool
}

var _ network.Provider = (*Provider)(nil)

// New opens (or starts) the VCH's book, checks that the configured port
// groups exist, applies the configured container networks and re-creates
// the port forwards of active endpoints.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Session == nil || cfg.VCH == "" || cfg.BridgePortGroup == "" {
		return nil, errdefs.InvalidParameter("vsphere network provider: a session, the VCH's name and its bridge port group are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	var dp object.DatastorePath
	if !dp.FromString(cfg.State) {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("vsphere network provider: state %q is no datastore path: use \"[datastore] folder\"", cfg.State))
	}
	p := &Provider{cfg: cfg, s: cfg.Session, log: cfg.Logger, fwd: map[string]*portproxy.Proxy{}, pgs: map[string]string{}, dns: map[string]*nameserver.Server{}}
	var err error
	if p.ds, err = p.s.Finder.Datastore(ctx, dp.Datastore); err != nil {
		return nil, fmt.Errorf("vsphere network state: datastore %q: %w", dp.Datastore, vsession.Classify(err))
	}
	folder := strings.Trim(dp.Path, "/")
	p.state = path.Join(folder, stateFile)
	if err := object.NewFileManager(p.s.Client).MakeDirectory(ctx, p.ds.Path(folder), p.s.Datacenter, true); err != nil && !errdefs.IsAlreadyExists(vsession.Classify(err)) {
		return nil, fmt.Errorf("vsphere network state: make %s: %w", p.ds.Path(folder), vsession.Classify(err))
	}
	if _, err := p.portGroup(ctx, cfg.BridgePortGroup); err != nil {
		return nil, fmt.Errorf("bridge network: %w", err)
	}
	var specs []network.ContainerNetworkSpec
	for _, c := range cfg.ContainerNetworks {
		if _, err := p.portGroup(ctx, c.PortGroup); err != nil {
			return nil, fmt.Errorf("container network %s: %w", c.Spec.Name, err)
		}
		s := c.Spec
		s.Bridge = token(c.PortGroup)
		p.pgs[s.Bridge] = c.PortGroup
		specs = append(specs, s)
	}
	st, err := p.load(ctx)
	if err != nil {
		return nil, err
	}
	if st == nil {
		st = &network.BookState{Networks: []network.Network{p.bridgeNetwork()}}
	}
	if p.book, err = network.LoadBook(*st); err != nil {
		return nil, err
	}
	removed, kept, err := p.book.SetContainerNetworks(specs)
	if err != nil {
		return nil, err
	}
	for _, n := range removed {
		p.log.Info("removed container network", zap.String("name", n.Name))
	}
	for _, name := range kept {
		p.log.Warn("container network no longer configured is kept while containers are on it", zap.String("name", name))
	}
	if err := p.save(ctx); err != nil {
		return nil, err
	}
	p.rebind()
	for _, n := range p.book.Networks() {
		if err := p.addLeg(ctx, n); err != nil {
			p.log.Error("the endpoint's leg on a user-defined network: its containers have no gateway", zap.String("network", n.Name), zap.Error(err))
		}
		p.serveDNS(n)
	}
	return p, nil
}

// serveDNS starts the DNS server of a bridge or user-defined network on
// its gateway, if that address is this host's: the VCH endpoint VM's leg
// on the network's port group. Elsewhere (a vchd that is no endpoint VM)
// nothing can serve it and the server is left out. Call with p.mu held
// or before use.
func (p *Provider) serveDNS(n network.Network) {
	if n.Container || p.dns[n.ID] != nil {
		return
	}
	srv, err := nameserver.Start(nameserver.Config{
		Addr: netip.AddrPortFrom(n.Gateway, 53), Resolver: resolver{p}, Upstreams: p.cfg.DNSUpstreams,
		Logger: p.log.Named("dns").With(zap.String("network", n.Name)),
	})
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			p.log.Debug("no DNS: the network's gateway is not an address of this host", zap.String("network", n.Name), zap.Stringer("gateway", n.Gateway))
		} else {
			p.log.Warn("no DNS on the network", zap.String("network", n.Name), zap.Error(err))
		}
		return
	}
	p.dns[n.ID] = srv
}

// resolver answers the DNS servers; it takes p.mu itself.
type resolver struct{ p *Provider }

func (r resolver) Resolve(ctx context.Context, from netip.Addr, name string) ([]netip.Addr, error) {
	return r.p.Resolve(ctx, from, name)
}

func (r resolver) Upstreams(ctx context.Context, from netip.Addr) []netip.AddrPort {
	return r.p.Upstreams(ctx, from)
}

// token is the book's host-side name of a container network's port
// group: an interface-like name (the book's rule), mapped back to the
// port group in the NICs.
func token(pg string) string {
	sum := sha256.Sum256([]byte(pg))
	return "vchpg" + hex.EncodeToString(sum[:])[:10]
}

func (p *Provider) bridgeNetwork() network.Network {
	// The appliance (cmd/vch-appliance) puts the gateway on the endpoint
	// VM's bridge NIC from the same function.
	subnet, gw := network.BridgeSubnet(p.cfg.BridgeRange)
	return network.Network{
		ID: network.NewID(), Name: network.BridgeName, Driver: "bridge",
		Subnet: subnet, Gateway: gw, Bridge: p.cfg.BridgePortGroup,
		Created: time.Now().UTC(),
	}
}

// portGroup finds a port group by name (NotFound names it).
func (p *Provider) portGroup(ctx context.Context, name string) (object.NetworkReference, error) {
	ref, err := p.s.Finder.Network(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("port group %q: %w", name, vsession.Classify(err))
	}
	return ref, nil
}

func (p *Provider) load(ctx context.Context) (*network.BookState, error) {
	if _, err := p.ds.Stat(ctx, p.state); err != nil {
		switch err.(type) {
		case object.DatastoreNoSuchFileError, object.DatastoreNoSuchDirectoryError:
			return nil, nil
		}
		return nil, fmt.Errorf("network state %s: %w", p.ds.Path(p.state), vsession.Classify(err))
	}
	r, _, err := p.ds.Download(ctx, p.state, &soap.DefaultDownload)
	if err != nil {
		return nil, fmt.Errorf("read network state %s: %w", p.ds.Path(p.state), vsession.Classify(err))
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read network state %s: %w", p.ds.Path(p.state), err)
	}
	st := new(network.BookState)
	if err := json.Unmarshal(body, st); err != nil {
		return nil, fmt.Errorf("decode network state %s: %w", p.ds.Path(p.state), err)
	}
	return st, nil
}

// save uploads the book. Call with p.mu held (or before use).
func (p *Provider) save(ctx context.Context) error {
	b, err := json.Marshal(p.book.State())
	if err != nil {
		return err
	}
	up := soap.DefaultUpload
	up.ContentLength = int64(len(b))
	if err := p.ds.Upload(context.WithoutCancel(ctx), bytes.NewReader(b), p.state, &up); err != nil {
		return fmt.Errorf("save network state %s: %w", p.ds.Path(p.state), vsession.Classify(err))
	}
	return nil
}

func (p *Provider) commit(ctx context.Context) {
	if err := p.save(ctx); err != nil {
		p.log.Error("persist network state", zap.Error(err))
	}
}

// rebind re-creates the forwards of active endpoints (vchd restart).
func (p *Provider) rebind() {
	for _, c := range p.book.Containers() {
		for _, ep := range p.book.Endpoints(c) {
			if n, err := p.book.Network(ep.Network); err != nil || n.Container {
				continue // a container network's ports are the container's own
			}
			for _, b := range ep.Bound {
				if _, err := (*binder)(p).Bind(ep, b); err != nil {
					p.log.Warn("re-create port forward", zap.String("container", c), zap.Stringer("binding", b), zap.Error(err))
				}
			}
		}
	}
}

// nic maps a container network's host-side token to its port group.
func (p *Provider) nic(n compute.NIC) compute.NIC {
	if pg, ok := p.pgs[n.Bridge]; ok {
		n.Bridge = pg
	}
	return n
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

// switchOf is the distributed switch of the bridge port group, where
// user-defined networks' port groups are made.
func (p *Provider) switchOf(ctx context.Context) (*object.DistributedVirtualSwitch, error) {
	ref, err := p.portGroup(ctx, p.cfg.BridgePortGroup)
	if err != nil {
		return nil, err
	}
	pg, ok := ref.(*object.DistributedVirtualPortgroup)
	if !ok {
		return nil, errdefs.NotImplemented(fmt.Sprintf("bridge port group %q is not a distributed port group: user-defined networks need a distributed switch to make their port groups on", p.cfg.BridgePortGroup))
	}
	var m mo.DistributedVirtualPortgroup
	if err := property.DefaultCollector(p.s.Client).RetrieveOne(ctx, pg.Reference(), []string{"config.distributedVirtualSwitch"}, &m); err != nil {
		return nil, fmt.Errorf("switch of port group %q: %w", p.cfg.BridgePortGroup, vsession.Classify(err))
	}
	if m.Config.DistributedVirtualSwitch == nil {
		return nil, fmt.Errorf("port group %q has no switch", p.cfg.BridgePortGroup)
	}
	return object.NewDistributedVirtualSwitch(p.s.Client, *m.Config.DistributedVirtualSwitch), nil
}

func (p *Provider) userPortGroup(id string) string { return p.cfg.VCH + "-" + id[:12] }

// CreateNetwork checks and places the network on a copy of the book,
// makes its port group and the endpoint's leg on it without holding mu,
// then books it (creates and removes are serialized by cmu, so the
// booking places it as the trial did). A failure undoes what was made.
func (p *Provider) CreateNetwork(ctx context.Context, spec network.NetworkSpec) (network.Network, error) {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	id := network.NewID()
	pgName := p.userPortGroup(id)
	ranges := network.SubnetsOf(network.UserNetworkRange(p.cfg.BridgeRange), 16)
	p.mu.Lock()
	trial, err := network.LoadBook(p.book.State())
	var n network.Network
	if err == nil {
		n, err = trial.CreateNetwork(spec, id, pgName, ranges)
	}
	p.mu.Unlock()
	if err != nil {
		return n, err
	}
	if err := p.makePortGroup(ctx, pgName); err != nil {
		return network.Network{}, fmt.Errorf("network %s: %w", spec.Name, err)
	}
	undo := func() {
		if err := p.removeLeg(ctx, n); err != nil {
			p.log.Warn("undo the endpoint's leg", zap.String("network", n.Name), zap.Error(err))
		}
		if derr := p.destroyPortGroup(ctx, pgName); derr != nil {
			p.log.Warn("undo port group", zap.String("name", pgName), zap.Error(derr))
		}
	}
	if err := p.addLeg(ctx, n); err != nil {
		undo()
		return network.Network{}, fmt.Errorf("network %s: %w", spec.Name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	booked, err := p.book.CreateNetwork(spec, id, pgName, ranges)
	if err == nil && (booked.Subnet != n.Subnet || booked.Gateway != n.Gateway) {
		_, _ = p.book.RemoveNetwork(id)
		err = fmt.Errorf("network %s: its subnet changed while its port group was made (%s, then %s)", spec.Name, n.Subnet, booked.Subnet)
	}
	if err == nil {
		if err = p.save(ctx); err != nil {
			if _, rerr := p.book.RemoveNetwork(id); rerr != nil {
				p.log.Warn("undo network booking", zap.Error(rerr))
			}
		}
	}
	if err != nil {
		undo()
		return network.Network{}, err
	}
	p.serveDNS(booked)
	return booked, nil
}

func (p *Provider) makePortGroup(ctx context.Context, name string) error {
	dvs, err := p.switchOf(ctx)
	if err != nil {
		return err
	}
	task, err := dvs.AddPortgroup(ctx, []types.DVPortgroupConfigSpec{{
		Name: name, Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding), NumPorts: 128,
		Description: "vch user-defined network of VCH " + p.cfg.VCH,
	}})
	if err != nil {
		return fmt.Errorf("make port group %q: %w", name, vsession.Classify(err))
	}
	return p.s.Wait(ctx, "make port group "+name, task)
}

// destroyPortGroup removes a port group this provider made; one already
// gone is fine.
func (p *Provider) destroyPortGroup(ctx context.Context, name string) error {
	ref, err := p.s.Finder.Network(ctx, name)
	if err != nil {
		if errdefs.IsNotFound(vsession.Classify(err)) {
			return nil
		}
		return fmt.Errorf("port group %q: %w", name, vsession.Classify(err))
	}
	pg, ok := ref.(*object.DistributedVirtualPortgroup)
	if !ok {
		return fmt.Errorf("port group %q is not a distributed port group", name)
	}
	task, err := pg.Destroy(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("remove port group %q: %w", name, vsession.Classify(err))
	}
	return p.s.Wait(context.WithoutCancel(ctx), "remove port group "+name, task)
}

// RemoveNetwork destroys the port group, then forgets the network (a
// failed destroy keeps it, so the removal can be tried again).
func (p *Provider) RemoveNetwork(ctx context.Context, nameOrID string) error {
	var stop *nameserver.Server
	defer func() {
		if stop != nil {
			stop.Close() // unlocked: its handlers take p.mu
		}
	}()
	p.cmu.Lock()
	defer p.cmu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.book.Network(nameOrID)
	if err != nil {
		return err
	}
	// The book's checks (built-in, in use) come first.
	st := p.book.State()
	if _, err := p.book.RemoveNetwork(n.ID); err != nil {
		return err
	}
	err = p.removeLeg(ctx, n)
	if err == nil {
		if err = p.destroyPortGroup(ctx, n.Bridge); err != nil {
			if lerr := p.addLeg(ctx, n); lerr != nil {
				p.log.Warn("restore the endpoint's leg", zap.String("network", n.Name), zap.Error(lerr))
			}
		}
	}
	if err != nil {
		restored, lerr := network.LoadBook(st)
		if lerr == nil {
			p.book = restored
		}
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	stop = p.dns[n.ID]
	delete(p.dns, n.ID)
	p.commit(ctx)
	return nil
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

func (p *Provider) Rename(ctx context.Context, container, old, new string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.book.Rename(container, old, new)
	return p.save(ctx)
}

func (p *Provider) Join(ctx context.Context, container string, spec network.EndpointSpec) (network.Endpoint, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep, err := p.book.Join(container, spec)
	if err == nil {
		p.commit(ctx)
	}
	return ep, err
}

func (p *Provider) Leave(ctx context.Context, container, net string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.book.Leave(container, net, (*binder)(p))
	p.commit(ctx)
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

// Attach activates the container's endpoints; the NICs' Bridge is the
// port group vscompute connects them to.
func (p *Provider) Attach(ctx context.Context, id string) ([]compute.NIC, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errdefs.Unavailable("network provider closed")
	}
	nics, err := p.book.Attach(id, (*binder)(p))
	p.commit(ctx)
	if err != nil {
		return nil, err
	}
	for i := range nics {
		nics[i] = p.nic(nics[i])
	}
	return nics, nil
}

func (p *Provider) Activate(ctx context.Context, container, net, mac string) (compute.NIC, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	nic, err := p.book.Activate(container, net, mac, (*binder)(p))
	if err != nil {
		return nic, err
	}
	p.commit(ctx)
	return p.nic(nic), nil
}

func (p *Provider) Detach(ctx context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.book.Detach(id, (*binder)(p)) {
		p.commit(ctx)
	}
	return nil
}

// Close stops the forwards; leases and bindings stay recorded for the
// next vchd.
func (p *Provider) Close() error {
	p.mu.Lock()
	p.closed = true
	for k, f := range p.fwd {
		f.Close()
		delete(p.fwd, k)
	}
	var servers []*nameserver.Server
	for id, srv := range p.dns {
		servers = append(servers, srv)
		delete(p.dns, id)
	}
	p.mu.Unlock()
	for _, srv := range servers {
		srv.Close() // unlocked: their handlers take p.mu
	}
	return nil
}

// binder makes bindings real with forwarders. Used with p.mu held.
type binder Provider

func fwdKey(ep network.Endpoint, b network.PortBinding) string { return ep.ID + "/" + b.String() }

func (bd *binder) Bind(ep network.Endpoint, b network.PortBinding) (network.PortBinding, error) {
	p := (*Provider)(bd)
	f, got, err := portproxy.Listen(b, netip.AddrPortFrom(ep.Address.Addr(), b.ContainerPort), p.log)
	if err != nil {
		return network.PortBinding{}, err
	}
	p.fwd[fwdKey(ep, got)] = f
	return got, nil
}

func (bd *binder) Unbind(ep network.Endpoint, b network.PortBinding) {
	p := (*Provider)(bd)
	if f := p.fwd[fwdKey(ep, b)]; f != nil {
		f.Close()
		delete(p.fwd, fwdKey(ep, b))
	}
}
