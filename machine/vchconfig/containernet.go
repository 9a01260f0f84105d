package vchconfig

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// FirewallLevels are a container network's firewall levels, strictest
// first; DefaultFirewall is the level of a network given none.
var FirewallLevels = []string{"closed", "outbound", "published", "peers", "open"}

// DefaultFirewall is the firewall level of a container network given none.
const DefaultFirewall = "published"

// ContainerNetwork is one --container-network BRIDGE[:alias] with its
// companion options (keyed by the alias): containers on it get addresses
// from IPRange (FROM-TO) and reach Gateway (GW/PREFIX) directly, without
// NAT; Firewall is what may reach them.
type ContainerNetwork struct {
	Bridge   string   `json:"bridge"`
	Alias    string   `json:"alias"`
	IPRange  string   `json:"ipRange"` // FROM-TO
	Gateway  string   `json:"gateway"` // GW/PREFIX
	DNS      []string `json:"dns,omitempty"`
	Firewall string   `json:"firewall,omitempty"`
}

// Parsed is the network's settings as addresses (after Validate).
func (c ContainerNetwork) Parsed() (gw netip.Prefix, from, to netip.Addr, dns []netip.Addr, err error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("container network %s: "+format, append([]any{c.Alias}, a...)...)
	}
	if c.Gateway == "" {
		return gw, from, to, nil, bad("a gateway is needed: --container-network-gateway %s:GW/PREFIX", c.Alias)
	}
	if gw, err = netip.ParsePrefix(c.Gateway); err != nil || !gw.Addr().Is4() || gw.Bits() > 30 {
		return gw, from, to, nil, bad("gateway %q: want an IPv4 GW/PREFIX such as 10.3.0.1/24 (prefix at most /30)", c.Gateway)
	}
	if c.IPRange == "" {
		return gw, from, to, nil, bad("an address range is needed: --container-network-ip-range %s:FROM-TO", c.Alias)
	}
	a, b, ok := strings.Cut(c.IPRange, "-")
	from, err1 := netip.ParseAddr(strings.TrimSpace(a))
	to, err2 := netip.ParseAddr(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || !from.Is4() || !to.Is4() || to.Less(from) {
		return gw, from, to, nil, bad("ip range %q: want FROM-TO, IPv4, ascending, such as 10.3.0.10-10.3.0.99", c.IPRange)
	}
	if !gw.Contains(from) || !gw.Contains(to) {
		return gw, from, to, nil, bad("ip range %s is not inside the gateway's subnet %s", c.IPRange, gw.Masked())
	}
	for _, d := range c.DNS {
		ip, err := netip.ParseAddr(d)
		if err != nil {
			return gw, from, to, nil, bad("DNS server %q: want an IP address", d)
		}
		dns = append(dns, ip)
	}
	return gw, from, to, dns, nil
}

// Validate checks one container network on its own.
func (c ContainerNetwork) Validate() error {
	switch {
	case c.Bridge == "" || len(c.Bridge) > 15 || strings.ContainsAny(c.Bridge, " /:"):
		return fmt.Errorf("--container-network %q: want BRIDGE[:alias], the bridge an interface name of at most 15 characters", c.Bridge+":"+c.Alias)
	case c.Alias == "" || strings.ContainsAny(c.Alias, " /:"):
		return fmt.Errorf("--container-network %s: the alias %q must be a name without spaces, '/' or ':'", c.Bridge, c.Alias)
	case c.Alias == "bridge" || c.Alias == "host" || c.Alias == "none":
		return fmt.Errorf("--container-network %s:%s: %s is docker's own network name, give another alias", c.Bridge, c.Alias, c.Alias)
	case c.Firewall != "" && !slices.Contains(FirewallLevels, c.Firewall):
		return fmt.Errorf("--container-network-firewall %s:%s: want one of %s", c.Alias, c.Firewall, strings.Join(FirewallLevels, ", "))
	}
	_, _, _, _, err := c.Parsed()
	return err
}

// ParseContainerNetworks reads the --container-network* options: nets
// are BRIDGE[:alias] (the alias defaults to the bridge's name), the
// others alias:VALUE and must name an alias of nets. Two networks may not
// share a bridge, an alias or overlapping subnets.
func ParseContainerNetworks(nets, ranges, gateways, dns, firewalls []string) ([]ContainerNetwork, error) {
	var out []ContainerNetwork
	byAlias := map[string]int{}
	for _, v := range nets {
		br, alias, ok := strings.Cut(v, ":")
		if !ok {
			alias = br
		}
		if _, dup := byAlias[alias]; dup {
			return nil, fmt.Errorf("--container-network %s: alias %s is given twice", v, alias)
		}
		for _, o := range out {
			if o.Bridge == br {
				return nil, fmt.Errorf("--container-network %s: bridge %s is already network %s", v, br, o.Alias)
			}
		}
		byAlias[alias] = len(out)
		out = append(out, ContainerNetwork{Bridge: br, Alias: alias})
	}
	set := func(flag string, vals []string, apply func(c *ContainerNetwork, v string) error) error {
		for _, kv := range vals {
			alias, v, ok := strings.Cut(kv, ":")
			if !ok || v == "" {
				return fmt.Errorf("--%s %q: want alias:VALUE", flag, kv)
			}
			i, known := byAlias[alias]
			if !known {
				return fmt.Errorf("--%s %s: no --container-network has the alias %s", flag, kv, alias)
			}
			if err := apply(&out[i], v); err != nil {
				return fmt.Errorf("--%s %s: %w", flag, kv, err)
			}
		}
		return nil
	}
	once := func(field *string, v string) error {
		if *field != "" {
			return fmt.Errorf("given twice for this network")
		}
		*field = v
		return nil
	}
	if err := set("container-network-ip-range", ranges, func(c *ContainerNetwork, v string) error { return once(&c.IPRange, v) }); err != nil {
		return nil, err
	}
	if err := set("container-network-gateway", gateways, func(c *ContainerNetwork, v string) error { return once(&c.Gateway, v) }); err != nil {
		return nil, err
	}
	if err := set("container-network-dns", dns, func(c *ContainerNetwork, v string) error { c.DNS = append(c.DNS, v); return nil }); err != nil {
		return nil, err
	}
	if err := set("container-network-firewall", firewalls, func(c *ContainerNetwork, v string) error { return once(&c.Firewall, v) }); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Firewall == "" {
			out[i].Firewall = DefaultFirewall
		}
		if err := out[i].Validate(); err != nil {
			return nil, err
		}
	}
	return out, CheckContainerNetworks(out)
}

// CheckContainerNetworks refuses networks that share a bridge, an alias
// or overlapping subnets.
func CheckContainerNetworks(nets []ContainerNetwork) error {
	for i, a := range nets {
		ga, _, _, _, _ := a.Parsed()
		for _, b := range nets[:i] {
			gb, _, _, _, _ := b.Parsed()
			switch {
			case a.Alias == b.Alias:
				return fmt.Errorf("container network alias %s is given twice", a.Alias)
			case a.Bridge == b.Bridge:
				return fmt.Errorf("container networks %s and %s share the bridge %s", b.Alias, a.Alias, a.Bridge)
			case ga.Masked().Overlaps(gb.Masked()):
				return fmt.Errorf("container networks %s and %s have overlapping subnets %s and %s", b.Alias, a.Alias, gb.Masked(), ga.Masked())
			}
		}
	}
	return nil
}
