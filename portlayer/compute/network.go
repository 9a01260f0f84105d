package compute

import (
	"context"
	"net/netip"
)

// NIC is one network interface a starting VM gets: the provider connects it
// to the host network Bridge names (a Linux bridge locally, a port group on
// vSphere) and the guest configures it from the rest.
type NIC struct {
	Network string       // the port layer's network name (e.g. "bridge")
	Bridge  string       // host-side network the NIC is attached to
	MAC     string       // 02:42:..., unique per NIC
	Address netip.Prefix // the guest's address and prefix length; zero: link only
	Gateway netip.Addr   // default route; zero: none
	// Address6 and Gateway6 are the IPv6 address and default route of a
	// NIC on an IPv6-enabled network.
	Address6 netip.Prefix
	Gateway6 netip.Addr
	DNS      []netip.Addr // name servers the network offers (its embedded DNS)
	MTU      int          // 0: the driver's default
	// Firewall is the NIC's network's firewall level when the guest must
	// enforce it itself (a container network, whose traffic passes no
	// host of the VCH on vSphere); "" on other networks. Peers are the
	// network's subnets (level peers) and Published the container ports
	// opened at level published.
	Firewall  string         `json:",omitempty"`
	Peers     []netip.Prefix `json:",omitempty"`
	Published []GuestPort    `json:",omitempty"`
}

// GuestPort is a container port a guest firewall opens.
type GuestPort struct {
	Proto string // tcp or udp
	Port  uint16
}

// MaxNICs is how many NICs a container VM has: its networks' NICs plus
// spare ones up to this number, so that a running VM can be connected to
// more networks without hot-plug (docs/architecture.md: slot budget).
const MaxNICs = 4

// NICPlugger connects a running VM to one more network through a spare
// NIC it booted with, and parks it again. The spare's MAC is fixed at
// boot, so PlugNIC passes it to configure, which allocates the endpoint
// and returns the NIC to connect (Bridge, Address). A failed PlugNIC
// leaves the spare parked; undoing configure is the caller's. No spare
// left is ErrConflict; a VM that is not running, ErrConflict as well.
type NICPlugger interface {
	PlugNIC(ctx context.Context, id string, configure func(mac string) (NIC, error)) error
	UnplugNIC(ctx context.Context, id, mac string) error
}

// NetworkAttacher is how networking takes part in a VM's life: the
// provider calls Attach while it starts the VM and Detach exactly once after
// each run that Attach succeeded for has ended: the VM exited on its own, was
// killed, failed to start, or was found dead when the provider was opened.
// Detach is the "VM exited" notification; it must not block for long and
// must be idempotent (a provider may call it again, or for a container
// that holds nothing). An Attach that fails must leave nothing allocated.
type NetworkAttacher interface {
	Attach(ctx context.Context, id string) ([]NIC, error)
	Detach(ctx context.Context, id string) error
}
