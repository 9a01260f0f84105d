package proto

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// GuestinfoNICs holds base64url(JSON array), without padding, of the NICs
// of the VM's current run, one object per NIC as the port layer encodes
// its compute.NIC (field names as Go's encoding/json writes them, the
// addresses in their text form, "" when unset):
//
//	[{"MAC":"02:42:ac:10:00:02","Address":"172.16.0.2/16",
//	  "Gateway":"172.16.0.1","Address6":"","Gateway6":"","MTU":0,...}]
//
// DNS are the name servers the NIC's network offers; other fields
// (Network, Bridge) are the host's and are ignored.
const GuestinfoNICs = "guestinfo.vch.nics"

// guestNIC is what the tether reads of one NIC in GuestinfoNICs.
type guestNIC struct {
	MAC      string `json:"MAC"`
	Address  string `json:"Address"`
	Gateway  string `json:"Gateway"`
	Address6 string `json:"Address6"`
	Gateway6 string `json:"Gateway6"`
	MTU      int    `json:"MTU"`
	// A container network's firewall, which the guest enforces
	// (compute.NIC's Firewall, Peers, Published; DNS its name servers).
	Firewall  string      `json:"Firewall"`
	Peers     []string    `json:"Peers"`
	Published []GuestPort `json:"Published"`
	DNS       []string    `json:"DNS"`
}

// GuestPort is a container port a guest firewall opens.
type GuestPort struct {
	Proto string `json:"proto"` // tcp or udp
	Port  uint16 `json:"port"`
}

// Firewall levels a guest enforces on a container network's NIC (the
// port layer's network.Firewall* values), strictest first.
const (
	FirewallClosed    = "closed"
	FirewallOutbound  = "outbound"
	FirewallPublished = "published"
	FirewallPeers     = "peers"
	FirewallOpen      = "open"
)

// GuestFirewall is what the guest enforces on one NIC: Level, and for
// peers the subnets and name servers (port 53) the NIC may reach, for
// published the container ports open to inbound connections.
type GuestFirewall struct {
	Level     string      `json:"level"`
	Peers     []string    `json:"peers,omitempty"`
	Published []GuestPort `json:"published,omitempty"`
	DNS       []string    `json:"dns,omitempty"`
}

// ParseGuestNICs decodes a GuestinfoNICs value into the interfaces the
// tether configures (by MAC: address, gateway, MTU, name servers),
// checking each field.
// An empty value is no NICs.
func ParseGuestNICs(raw string) ([]Interface, error) {
	if raw == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", GuestinfoNICs, err)
	}
	var nics []guestNIC
	if err := json.Unmarshal(b, &nics); err != nil {
		return nil, fmt.Errorf("%s: %w", GuestinfoNICs, err)
	}
	out := make([]Interface, 0, len(nics))
	for i, n := range nics {
		bad := func(what, v string, err error) error {
			return fmt.Errorf("%s: NIC %d: %s %q: %w", GuestinfoNICs, i, what, v, err)
		}
		mac, err := net.ParseMAC(n.MAC)
		if err != nil {
			return nil, bad("MAC", n.MAC, err)
		}
		for _, p := range []struct{ what, v string }{{"address", n.Address}, {"IPv6 address", n.Address6}} {
			if p.v == "" {
				continue
			}
			if _, err := netip.ParsePrefix(p.v); err != nil {
				return nil, bad(p.what, p.v, err)
			}
		}
		for _, a := range []struct{ what, v string }{{"gateway", n.Gateway}, {"IPv6 gateway", n.Gateway6}} {
			if a.v == "" {
				continue
			}
			if _, err := netip.ParseAddr(a.v); err != nil {
				return nil, bad(a.what, a.v, err)
			}
		}
		if n.MTU < 0 {
			return nil, bad("MTU", fmt.Sprint(n.MTU), errors.New("negative"))
		}
		gi := Interface{MAC: mac.String(), Address: n.Address, Gateway: n.Gateway, Address6: n.Address6, Gateway6: n.Gateway6, MTU: n.MTU}
		for _, d := range n.DNS {
			if _, err := netip.ParseAddr(d); err != nil {
				return nil, bad("name server", d, err)
			}
			gi.DNS = append(gi.DNS, d)
		}
		if n.Firewall != "" {
			fw, err := n.firewall()
			if err != nil {
				return nil, bad("firewall", n.Firewall, err)
			}
			gi.Firewall = fw
		}
		out = append(out, gi)
	}
	return out, nil
}

// firewall checks and returns the NIC's firewall.
func (n guestNIC) firewall() (*GuestFirewall, error) {
	switch n.Firewall {
	case FirewallClosed, FirewallOutbound, FirewallPublished, FirewallPeers, FirewallOpen:
	default:
		return nil, errors.New("unknown level")
	}
	fw := &GuestFirewall{Level: n.Firewall, Published: n.Published}
	for _, p := range n.Peers {
		if _, err := netip.ParsePrefix(p); err != nil {
			return nil, fmt.Errorf("peer subnet %q: %w", p, err)
		}
		fw.Peers = append(fw.Peers, p)
	}
	for _, d := range n.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return nil, fmt.Errorf("name server %q: %w", d, err)
		}
		fw.DNS = append(fw.DNS, d)
	}
	for _, p := range n.Published {
		if (p.Proto != "tcp" && p.Proto != "udp") || p.Port == 0 {
			return nil, fmt.Errorf("published port %s/%d", p.Proto, p.Port)
		}
	}
	return fw, nil
}
