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
	DNS     []netip.Addr // name servers the network offers (its embedded DNS)
	MTU     int          // 0: the driver's default
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
