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
	// IPRange6 and Gateway6 give the network IPv6 too (the IPv6 values
	// of --container-network-ip-range and --container-network-gateway).
	IPRange6 string `json:"ipRange6,omitempty"` // FROM-TO
	Gateway6 string `json:"gateway6,omitempty"` // GW/PREFIX
}

// Parsed6 is the network's IPv6 settings (after Validate); zero values
// for a network without IPv6.
func (c ContainerNetwork) Parsed6() (gw netip.Prefix, from, to netip.Addr, err error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("container network %s: "+format, append([]any{c.Alias}, a...)...)
	}
	if c.Gateway6 == "" && c.IPRange6 == "" {
		return gw, from, to, nil
	}
	if c.Gateway6 == "" || c.IPRange6 == "" {
		return gw, from, to, bad("IPv6 needs both --container-network-gateway %s:GW6/PREFIX and --container-network-ip-range %s:FROM6-TO6", c.Alias, c.Alias)
	}
	if gw, err = netip.ParsePrefix(c.Gateway6); err != nil || !gw.Addr().Is6() || gw.Addr().Is4In6() || gw.Bits() > 120 {
		return gw, from, to, bad("IPv6 gateway %q: want GW/PREFIX such as fd00:3::1/64 (prefix at most /120)", c.Gateway6)
	}
	a, b, ok := strings.Cut(c.IPRange6, "-")
	from, err1 := netip.ParseAddr(strings.TrimSpace(a))
	to, err2 := netip.ParseAddr(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || !from.Is6() || !to.Is6() || to.Less(from) {
		return gw, from, to, bad("IPv6 ip range %q: want FROM-TO, ascending, such as fd00:3::10-fd00:3::99", c.IPRange6)
	}
	if !gw.Contains(from) || !gw.Contains(to) {
		return gw, from, to, bad("IPv6 ip range %s is not inside the gateway's subnet %s", c.IPRange6, gw.Masked())
	}
	return gw, from, to, nil
}

// isIPv6Value tells an IPv6 value of --container-network-ip-range or
// -gateway (it holds a ':') from an IPv4 one.
func isIPv6Value(v string) bool { return strings.Contains(v, ":") }

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
	if _, _, _, err := c.Parsed6(); err != nil {
		return err
	}
	_, _, _, _, err := c.Parsed()
	return err
}

// ParseContainerNetworks reads the --container-network* options of
// create: nets are BRIDGE[:alias] (the alias defaults to the bridge's
// name), the others alias:VALUE naming an alias of nets. Two networks may
// not share a bridge, an alias or overlapping subnets.
func ParseContainerNetworks(nets, ranges, gateways, dns, firewalls []string) ([]ContainerNetwork, error) {
	return EditContainerNetworks(nil, nets, ranges, gateways, dns, firewalls)
}

// EditContainerNetworks applies the --container-network* options of
// configure to a VCH's networks (base): a --container-network adds a
// network or replaces the one of its alias; the other options set a value
// of a network given or already there (--container-network-dns replaces
// the network's list). It returns the networks the options touched.
func EditContainerNetworks(base []ContainerNetwork, nets, ranges, gateways, dns, firewalls []string) ([]ContainerNetwork, error) {
	out := slices.Clone(base)
	touched := map[string]bool{}
	fresh := map[string]bool{}
	index := func(alias string) int {
		return slices.IndexFunc(out, func(c ContainerNetwork) bool { return c.Alias == alias })
	}
	for _, v := range nets {
		br, alias, ok := strings.Cut(v, ":")
		if !ok {
			alias = br
		}
		if fresh[alias] {
			return nil, fmt.Errorf("--container-network %s: alias %s is given twice", v, alias)
		}
		fresh[alias], touched[alias] = true, true
		c := ContainerNetwork{Bridge: br, Alias: alias}
		if i := index(alias); i >= 0 {
			out[i] = c
		} else {
			out = append(out, c)
		}
	}
	given := map[string]bool{}
	set := func(flag string, vals []string, apply func(c *ContainerNetwork, v string)) error {
		for _, kv := range vals {
			alias, v, ok := strings.Cut(kv, ":")
			if !ok || v == "" {
				return fmt.Errorf("--%s %q: want alias:VALUE", flag, kv)
			}
			i := index(alias)
			if i < 0 {
				return fmt.Errorf("--%s %s: no --container-network has the alias %s", flag, kv, alias)
			}
			key := flag + "\x00" + alias
			if flag != "container-network-dns" && isIPv6Value(v) {
				key += "\x006"
			}
			if flag != "container-network-dns" && given[key] {
				return fmt.Errorf("--%s %s: given twice for network %s", flag, kv, alias)
			}
			first := !given[key]
			given[key], touched[alias] = true, true
			if first && flag == "container-network-dns" {
				out[i].DNS = nil
			}
			apply(&out[i], v)
		}
		return nil
	}
	// An IPv6 value is its own setting: one IPv4 and one IPv6 value of
	// each are allowed per network.
	split := func(vals []string) (v4, v6 []string) {
		for _, kv := range vals {
			if _, v, _ := strings.Cut(kv, ":"); isIPv6Value(v) {
				v6 = append(v6, kv)
			} else {
				v4 = append(v4, kv)
			}
		}
		return v4, v6
	}
	r4, r6 := split(ranges)
	g4, g6 := split(gateways)
	if err := set("container-network-ip-range", r4, func(c *ContainerNetwork, v string) { c.IPRange = v }); err != nil {
		return nil, err
	}
	if err := set("container-network-ip-range", r6, func(c *ContainerNetwork, v string) { c.IPRange6 = v }); err != nil {
		return nil, err
	}
	if err := set("container-network-gateway", g4, func(c *ContainerNetwork, v string) { c.Gateway = v }); err != nil {
		return nil, err
	}
	if err := set("container-network-gateway", g6, func(c *ContainerNetwork, v string) { c.Gateway6 = v }); err != nil {
		return nil, err
	}
	if err := set("container-network-dns", dns, func(c *ContainerNetwork, v string) { c.DNS = append(c.DNS, v) }); err != nil {
		return nil, err
	}
	if err := set("container-network-firewall", firewalls, func(c *ContainerNetwork, v string) { c.Firewall = v }); err != nil {
		return nil, err
	}
	var res []ContainerNetwork
	for i := range out {
		if out[i].Firewall == "" {
			out[i].Firewall = DefaultFirewall
		}
		if err := out[i].Validate(); err != nil {
			return nil, err
		}
		if touched[out[i].Alias] {
			res = append(res, out[i])
		}
	}
	if err := CheckContainerNetworks(out); err != nil {
		return nil, err
	}
	return res, nil
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
			ga6, _, _, _ := a.Parsed6()
			gb6, _, _, _ := b.Parsed6()
			if ga6.IsValid() && gb6.IsValid() && ga6.Masked().Overlaps(gb6.Masked()) {
				return fmt.Errorf("container networks %s and %s have overlapping IPv6 subnets %s and %s", b.Alias, a.Alias, gb6.Masked(), ga6.Masked())
			}
		}
	}
	return nil
}
