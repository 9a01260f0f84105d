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
// Other fields (Network, Bridge, DNS) are the host's and are ignored.
const GuestinfoNICs = "guestinfo.vch.nics"

// guestNIC is what the tether reads of one NIC in GuestinfoNICs.
type guestNIC struct {
	MAC      string `json:"MAC"`
	Address  string `json:"Address"`
	Gateway  string `json:"Gateway"`
	Address6 string `json:"Address6"`
	Gateway6 string `json:"Gateway6"`
	MTU      int    `json:"MTU"`
}

// ParseGuestNICs decodes a GuestinfoNICs value into the interfaces the
// tether configures (by MAC: address, gateway, MTU), checking each field.
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
		out = append(out, Interface{MAC: mac.String(), Address: n.Address, Gateway: n.Gateway, Address6: n.Address6, Gateway6: n.Gateway6, MTU: n.MTU})
	}
	return out, nil
}
