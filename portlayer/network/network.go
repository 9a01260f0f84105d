// Package network is the port layer's view of container networking:
// scopes (networks), IPAM, endpoints and port bindings.
//
// Networks: the VCH's "bridge" always exists; CreateNetwork and
// RemoveNetwork (Manager) make and remove user-defined ones, each its own
// host network with its own DNS (Resolver answers it).
//
// The life of one container's network, in this package's words:
//
//  1. Join(container, spec) records an endpoint: the container wants to be
//     on spec.Network with spec.Ports published. Nothing is allocated yet.
//  2. Attach(container), called by the compute provider while it starts the
//     VM, activates every endpoint of the container: an address from the
//     network's IPAM (the network's gateway as default route), a MAC derived
//     from it, and the port bindings on the host. It returns the NICs the VM
//     gets (compute.NIC). A host port that is taken fails the start.
//  3. Detach(container), called by the compute provider once the VM's run
//     ended (exited, killed, failed to start, found dead), releases the
//     address and the port bindings. The endpoint stays recorded.
//  4. Leave(container, network) forgets the endpoint (at docker rm),
//     releasing what it still holds.
//
// A running container joins one more network with Join, then Activate
// with the MAC of the spare NIC it gets (compute.NICPlugger), and leaves it
// with Leave.
//
// Errors are errdefs classes: ErrNotFound for an unknown network,
// ErrConflict for a host port or a static address that is taken, a second
// join of the same network, or an exhausted address range;
// ErrInvalidParameter for bad bindings or a static address outside the
// network; ErrForbidden for removing a built-in or used network.
// Providers persist their state, so a restarted vchd keeps networks and
// leases and re-creates the bindings and DNS servers of running containers.
package network

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
)

// DefaultBridgeRange is where bridge networks' subnets come from.
var DefaultBridgeRange = netip.MustParsePrefix("172.16.0.0/12")

// BridgeSubnet is the bridge network's subnet and gateway for the
// configured bridge range rng (zero: DefaultBridgeRange): the range
// itself if it is a /16 or smaller, else its first /16; the gateway is
// the subnet's first address (.1). On vSphere the VCH's endpoint VM holds
// the gateway on the bridge port group, and vchd's network provider hands
// out the subnet's addresses: both take them from here.
func BridgeSubnet(rng netip.Prefix) (subnet netip.Prefix, gw netip.Addr) {
	if !rng.IsValid() {
		rng = DefaultBridgeRange
	}
	subnet = rng.Masked()
	if subnet.Bits() < 16 {
		subnet = netip.PrefixFrom(subnet.Addr(), 16)
	}
	return subnet, subnet.Addr().Next()
}

// UserNetworkRange is where a VCH whose bridge range is rng takes its
// user-defined networks' /16s from on vSphere: rng when it holds more
// than the bridge's own /16, else DefaultBridgeRange. The endpoint VM
// masquerades and isolates both ranges.
func UserNetworkRange(rng netip.Prefix) netip.Prefix {
	if rng.IsValid() && rng.Addr().Is4() && rng.Bits() < 16 {
		return rng.Masked()
	}
	return DefaultBridgeRange
}

// MaxEndpoints is how many networks one container can be on: one NIC per
// network, and the virtio-mmio slot budget of a VM leaves room for four
// (docs/architecture.md).
const MaxEndpoints = compute.MaxNICs

// BridgeName is the name of every VCH's NAT network.
const BridgeName = "bridge"

// Network is one scope.
type Network struct {
	ID      string       `json:"id"`     // 64 hex digits
	Name    string       `json:"name"`   // "bridge"
	Driver  string       `json:"driver"` // "bridge"
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	// IPRange, if set, is the part of Subnet dynamic addresses come from.
	IPRange  netip.Prefix `json:"ipRange,omitzero"`
	Bridge   string       `json:"bridge"` // host-side network (Linux bridge name)
	Internal bool         `json:"internal,omitempty"`
	// UserDefined networks were made by CreateNetwork: they can be
	// removed, take static addresses and aliases, and have DNS.
	UserDefined bool `json:"userDefined,omitempty"`
	// SubnetGiven: the user chose Subnet (docker allows --ip only then).
	SubnetGiven bool              `json:"subnetGiven,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Options     map[string]string `json:"options,omitempty"`
	Created     time.Time         `json:"created"`
	// Subnet6 and Gateway6 are set on an IPv6-enabled network (docker's
	// --ipv6): every endpoint also gets an address of Subnet6.
	Subnet6  netip.Prefix `json:"subnet6,omitzero"`
	Gateway6 netip.Addr   `json:"gateway6,omitzero"`

	// Container networks (VIC's "Direct"; vic-machine
	// --container-network): the VCH's configuration makes them, they are
	// reachable without NAT, dynamic addresses come from
	// RangeFrom..RangeTo, their upstream name servers are DNS (the
	// provider's DNS at DNSAddr forwards to them), -p opens the container's own port rather than a host port,
	// and Firewall is the level enforced for their containers.
	Container bool       `json:"container,omitempty"`
	RangeFrom netip.Addr `json:"rangeFrom,omitzero"`
	RangeTo   netip.Addr `json:"rangeTo,omitzero"`
	// RangeFrom6..RangeTo6: a container network's dynamic IPv6 addresses
	// (with Subnet6/Gateway6).
	RangeFrom6 netip.Addr   `json:"rangeFrom6,omitzero"`
	RangeTo6   netip.Addr   `json:"rangeTo6,omitzero"`
	DNS        []netip.Addr `json:"dns,omitempty"`
	Firewall   string       `json:"firewall,omitempty"`
	// DNSAddr is where the provider serves DNS on a container network
	// (a host address on its bridge; zero: none, the containers use DNS
	// directly). It answers the names of the network's containers and
	// forwards the rest to DNS (or the host's resolvers).
	DNSAddr netip.Addr `json:"dnsAddr,omitzero"`
	// OwnBridge: the provider made the host bridge (so it removes it);
	// a bridge that existed before is left as found.
	OwnBridge bool `json:"ownBridge,omitempty"`
}

// Firewall levels of a container network, from strictest to most open.
const (
	// FirewallClosed: no traffic to or from the containers.
	FirewallClosed = "closed"
	// FirewallOutbound: connections from the containers only.
	FirewallOutbound = "outbound"
	// FirewallPublished: outbound, and inbound to published ports (-p).
	FirewallPublished = "published"
	// FirewallPeers: only with the other containers of the network.
	FirewallPeers = "peers"
	// FirewallOpen: everything.
	FirewallOpen = "open"
)

// FirewallLevels are the valid levels; the default is FirewallPublished.
var FirewallLevels = []string{FirewallClosed, FirewallOutbound, FirewallPublished, FirewallPeers, FirewallOpen}

// ContainerDriver is the driver docker sees for container networks
// (VIC's name for them).
const ContainerDriver = "external"

// ContainerNetworkSpec is one container network of the VCH's
// configuration.
type ContainerNetworkSpec struct {
	Name      string       // the alias docker users see, e.g. "public"
	Bridge    string       // host bridge; made if missing
	Gateway   netip.Prefix // GW/PREFIX: the gateway and the subnet
	RangeFrom netip.Addr
	RangeTo   netip.Addr
	DNS       []netip.Addr
	Firewall  string // "": FirewallPublished
	// Gateway6 (GW/PREFIX) and RangeFrom6..RangeTo6 give the network
	// IPv6 too; zero: IPv4 only.
	Gateway6   netip.Prefix
	RangeFrom6 netip.Addr
	RangeTo6   netip.Addr
}

// NetworkSpec is what CreateNetwork makes: zero Subnet picks a free /16,
// zero Gateway the subnet's first address.
type NetworkSpec struct {
	Name     string
	Driver   string // "" or "bridge"
	Subnet   netip.Prefix
	Gateway  netip.Addr
	IPRange  netip.Prefix
	Internal bool
	Labels   map[string]string
	Options  map[string]string
	// IPv6 enables IPv6: Subnet6 (zero: a /64 of fd00::/8 derived from the
	// network's ID) and Gateway6 (zero: its ::1).
	IPv6     bool
	Subnet6  netip.Prefix
	Gateway6 netip.Addr
}

// PortBinding publishes ContainerPort on the host.
type PortBinding struct {
	Proto         string     `json:"proto"` // "tcp" or "udp"
	ContainerPort uint16     `json:"containerPort"`
	HostIP        netip.Addr `json:"hostIP,omitzero"` // zero: every address of the host
	// HostPort is the host port; 0 picks a free one. With HostPortEnd the
	// first free port of HostPort..HostPortEnd is used.
	HostPort    uint16 `json:"hostPort"`
	HostPortEnd uint16 `json:"hostPortEnd,omitempty"`
}

func (b PortBinding) String() string {
	ip := "0.0.0.0"
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return fmt.Sprintf("%s:%d->%d/%s", ip, b.HostPort, b.ContainerPort, b.Proto)
}

// EndpointSpec is what Join records.
type EndpointSpec struct {
	Network string   `json:"network"`
	Aliases []string `json:"aliases,omitempty"`
	// DNSNames are the names the network's DNS answers with this
	// endpoint's address (container name, short ID, aliases).
	DNSNames []string      `json:"dnsNames,omitempty"`
	Ports    []PortBinding `json:"ports,omitempty"`
	// IPv4 is a static address (docker's --ip); zero: the next free one.
	IPv4 netip.Addr `json:"ipv4,omitzero"`
	// IPv6 is a static IPv6 address (docker's --ip6) on an IPv6-enabled
	// network; zero: the next free one.
	IPv6 netip.Addr `json:"ipv6,omitzero"`
	// Upstreams are the container's own name servers (--dns): the
	// network's DNS forwards this container's other queries to them
	// instead of the host's.
	Upstreams []netip.Addr `json:"upstreams,omitempty"`
	// MACAddress is a MAC requested for the NIC (docker's
	// --mac-address); empty: one derived from the address (MACFor).
	MACAddress string `json:"macAddress,omitempty"`
}

// Endpoint is one container's membership of one network.
type Endpoint struct {
	ID        string        `json:"id"` // 64 hex digits
	Container string        `json:"container"`
	Network   string        `json:"network"` // network ID
	Aliases   []string      `json:"aliases,omitempty"`
	DNSNames  []string      `json:"dnsNames,omitempty"`
	Ports     []PortBinding `json:"ports,omitempty"` // as requested
	IPv4      netip.Addr    `json:"ipv4,omitzero"`   // static address requested
	IPv6      netip.Addr    `json:"ipv6,omitzero"`   // static IPv6 address requested
	Upstreams []netip.Addr  `json:"upstreams,omitempty"`
	// MACAddress is the MAC requested (EndpointSpec.MACAddress).
	MACAddress string `json:"macAddress,omitempty"`
	// Set while active (between Attach and Detach).
	Active  bool          `json:"active,omitempty"`
	MAC     string        `json:"mac,omitempty"`
	Address netip.Prefix  `json:"address,omitzero"`
	Gateway netip.Addr    `json:"gateway,omitzero"`
	Bound   []PortBinding `json:"bound,omitempty"` // with the host ports in use
	// On an IPv6-enabled network, while active.
	Address6 netip.Prefix `json:"address6,omitzero"`
	Gateway6 netip.Addr   `json:"gateway6,omitzero"`
}

// Scopes reads networks.
type Scopes interface {
	Networks(ctx context.Context) ([]Network, error)
	// Network finds a network by name, full ID or unique ID prefix.
	Network(ctx context.Context, nameOrID string) (Network, error)
}

// Manager makes and removes user-defined networks. A user-defined network
// is its own host network (a Linux bridge locally): containers on different
// networks cannot reach each other.
type Manager interface {
	// CreateNetwork fails with ErrConflict for a name in use, ErrForbidden
	// for a subnet overlapping another network's, ErrInvalidParameter for
	// a gateway or IP range outside the subnet.
	CreateNetwork(ctx context.Context, spec NetworkSpec) (Network, error)
	// RemoveNetwork fails with ErrForbidden for a built-in network or one
	// that containers are joined to.
	RemoveNetwork(ctx context.Context, nameOrID string) error
}

// Resolver is the name service of networks: Resolve answers name for the
// container whose address is from, with the addresses of the active
// endpoints named so on the networks that container is on (ErrNotFound if
// none). Names are matched case-insensitively.
//
// Upstreams returns the name servers the container at from forwards other
// queries to (its --dns), nil for the host's.
type Resolver interface {
	Resolve(ctx context.Context, from netip.Addr, name string) ([]netip.Addr, error)
	Upstreams(ctx context.Context, from netip.Addr) []netip.AddrPort
}

// Endpoints records containers' memberships.
type Endpoints interface {
	Join(ctx context.Context, container string, spec EndpointSpec) (Endpoint, error)
	// Leave forgets the container's endpoint on network ("" for all of
	// them), releasing its address and bindings if active.
	Leave(ctx context.Context, container, network string) error
	Endpoints(ctx context.Context, container string) ([]Endpoint, error)
	// Containers lists the containers that have endpoints.
	Containers(ctx context.Context) ([]string, error)
	// Rename replaces the DNS name old by new in every endpoint of the
	// container (docker rename).
	Rename(ctx context.Context, container, old, new string) error
}

// Activator activates one endpoint of a running container: network
// connect while the VM runs, through one of its spare NICs
// (compute.NICPlugger), whose MAC the endpoint takes. Leave undoes it.
type Activator interface {
	Activate(ctx context.Context, container, network, mac string) (compute.NIC, error)
}

// Provider is a complete network implementation (local, fake).
type Provider interface {
	Scopes
	Manager
	Endpoints
	Activator
	Resolver
	compute.NetworkAttacher
	// Close stops serving bindings without releasing anything (running
	// VMs keep their leases for the next vchd).
	Close() error
}

// MACFor derives a locally administered MAC from an IPv4 address, as
// docker does (02:42 followed by the address).
func MACFor(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}
