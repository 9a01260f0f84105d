package local

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/portlayer/network"
)

// Container networks (vic-machine --container-network) are host bridges
// whose containers are reached on their own addresses, without NAT. Their
// firewall levels are enforced on the host, in iptables' mangle table
// (which runs before the filter table, so no other network's ACCEPT in
// FORWARD can bypass it), with two chains per network:
//
//	vchi-<id>: traffic towards the bridge (mangle FORWARD -o BR, OUTPUT -o BR)
//	vcho-<id>: traffic from the bridge    (mangle FORWARD -i BR, INPUT -i BR)
//
// Bridged traffic between two ports of the bridge (container to
// container, or an uplink port to a container) passes FORWARD only with
// br_netfilter's bridge-nf-call-iptables on, which setupContainerHost
// turns on (as dockerd does). The chains match the containers' current
// addresses; syncFirewall rewrites them atomically (iptables-restore)
// whenever an endpoint of the network is activated or deactivated.

func chainIn(n network.Network) string  { return "vchi-" + n.ID[:10] }
func chainOut(n network.Network) string { return "vcho-" + n.ID[:10] }

// containerRules are a container network's jumps into its chains and its
// forwarding rules: traffic within the bridge and to and from non-VCH
// interfaces is accepted, traffic into VCH bridge networks only as replies.
func containerRules(n network.Network) []rule {
	br := n.Bridge
	tag := []string{"-m", "comment", "--comment", "vch:" + br}
	r := func(table, chain string, spec ...string) rule { return rule{table, chain, append(spec, tag...), false} }
	rs := []rule{
		r("mangle", "FORWARD", "-o", br, "-j", chainIn(n)),
		r("mangle", "OUTPUT", "-o", br, "-j", chainIn(n)),
		r("mangle", "FORWARD", "-i", br, "-j", chainOut(n)),
		r("mangle", "INPUT", "-i", br, "-j", chainOut(n)),
		r("filter", "FORWARD", "-i", br, "-o", br, "-j", "ACCEPT"),
		r("filter", "FORWARD", "-i", br, "-o", "vch+", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
		r("filter", "FORWARD", "-i", br, "-o", "vch+", "-j", "DROP"),
		r("filter", "FORWARD", "-i", br, "-j", "ACCEPT"),
		r("filter", "FORWARD", "-o", br, "-j", "ACCEPT"),
	}
	if n.Subnet6.IsValid() {
		// The same in ip6tables: the firewall holds for IPv6 too.
		for _, x := range rs[:len(rs):len(rs)] {
			x.v6 = true
			rs = append(rs, x)
		}
	}
	return rs
}

// hostBits is a's host prefix: /32 or /128.
func hostBits(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }

// firewallMember is one active container of a container network.
type firewallMember struct {
	addr  netip.Addr
	ports []network.PortBinding // published (opened) ports
}

// chainRules are the rules of the two chains for level with the
// network's active containers.
// dns, if valid, is vchd's DNS on the network: the containers' queries to
// it pass at every level but closed.
func chainRules(level string, members []firewallMember, dns netip.Addr) (in, out [][]string) {
	established := []string{"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"}
	dropTo := func() {
		for _, m := range members {
			in = append(in, []string{"-d", hostBits(m.addr), "-j", "DROP"})
		}
	}
	switch level {
	case network.FirewallOpen:
	case network.FirewallClosed:
		dropTo()
		for _, m := range members {
			out = append(out, []string{"-s", hostBits(m.addr), "-j", "DROP"})
		}
	case network.FirewallOutbound:
		in = append(in, established)
		dropTo()
	case network.FirewallPeers:
		in = append(in, established)
		out = append(out, established)
		if dns.IsValid() {
			for _, proto := range []string{"udp", "tcp"} {
				out = append(out, []string{"-d", hostBits(dns), "-p", proto, "-m", proto, "--dport", "53", "-j", "RETURN"})
			}
		}
		for _, m := range members {
			in = append(in, []string{"-s", hostBits(m.addr), "-j", "RETURN"})
			out = append(out, []string{"-d", hostBits(m.addr), "-j", "RETURN"})
		}
		dropTo()
		for _, m := range members {
			out = append(out, []string{"-s", hostBits(m.addr), "-j", "DROP"})
		}
	default: // published
		in = append(in, established)
		for _, m := range members {
			for _, p := range m.ports {
				in = append(in, []string{"-d", hostBits(m.addr), "-p", p.Proto, "-m", p.Proto, "--dport", itoa(int(p.ContainerPort)), "-j", "RETURN"})
			}
		}
		dropTo()
	}
	return in, out
}

// restoreInput is the iptables-restore text that (re)declares, and so
// flushes, the chains of every network in nets and fills them; with v6 the
// ip6tables-restore text of the IPv6 networks and addresses.
func restoreInput(nets []network.Network, members map[string][]firewallMember, v6 bool) []byte {
	var b bytes.Buffer
	b.WriteString("*mangle\n")
	for _, n := range nets {
		if v6 && !n.Subnet6.IsValid() {
			continue
		}
		fmt.Fprintf(&b, ":%s - [0:0]\n:%s - [0:0]\n", chainIn(n), chainOut(n))
	}
	for _, n := range nets {
		if v6 && !n.Subnet6.IsValid() {
			continue
		}
		var ms []firewallMember
		for _, m := range members[n.ID] {
			if m.addr.Is6() == v6 {
				ms = append(ms, m)
			}
		}
		dns := n.DNSAddr
		if v6 {
			dns = netip.Addr{}
		}
		in, out := chainRules(n.Firewall, ms, dns)
		if v6 && len(in)+len(out) > 0 {
			// Neighbour discovery (unicast probes included) passes at
			// every level: IPv6's ARP, which iptables never sees.
			var nd [][]string
			for _, typ := range []string{"neighbour-solicitation", "neighbour-advertisement"} {
				nd = append(nd, []string{"-p", "ipv6-icmp", "-m", "icmp6", "--icmpv6-type", typ, "-j", "RETURN"})
			}
			in, out = append(slices.Clone(nd), in...), append(slices.Clone(nd), out...)
		}
		for _, r := range in {
			fmt.Fprintf(&b, "-A %s %s\n", chainIn(n), strings.Join(r, " "))
		}
		for _, r := range out {
			fmt.Fprintf(&b, "-A %s %s\n", chainOut(n), strings.Join(r, " "))
		}
	}
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

func iptablesRestore(input []byte, v6 bool) error {
	bin := "iptables-restore"
	if v6 {
		bin = "ip6tables-restore"
	}
	cmd := exec.Command(bin, "-w", "--noflush")
	cmd.Stdin = bytes.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s\ninput:\n%s", bin, err, strings.TrimSpace(string(out)), input)
	}
	return nil
}

// setupContainerHost makes a container network's bridge if it is missing
// (then with the gateway address on it, so the host routes for its
// containers), its chains and rules. made reports whether the bridge was
// made here.
func setupContainerHost(n network.Network) (made bool, err error) {
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}}
		if err := netlink.LinkAdd(br); err != nil {
			return false, fmt.Errorf("create bridge %s: %w", n.Bridge, err)
		}
		if link, err = netlink.LinkByName(n.Bridge); err != nil {
			return true, err
		}
		made = true
	} else if _, ok := link.(*netlink.Bridge); !ok {
		return false, fmt.Errorf("container network %s: %s is a %s, not a bridge", n.Name, n.Bridge, link.Type())
	}
	if made || n.OwnBridge {
		addr, err := netlink.ParseAddr(netip.PrefixFrom(n.Gateway, n.Subnet.Bits()).String())
		if err != nil {
			return made, err
		}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return made, fmt.Errorf("bridge %s address %s: %w", n.Bridge, addr, err)
		}
		if n.Subnet6.IsValid() {
			a6, err := netlink.ParseAddr(netip.PrefixFrom(n.Gateway6, n.Subnet6.Bits()).String())
			if err != nil {
				return made, err
			}
			a6.Flags |= unix.IFA_F_NODAD
			if err := netlink.AddrReplace(link, a6); err != nil {
				return made, fmt.Errorf("bridge %s address %s: %w", n.Bridge, a6, err)
			}
		}
	}
	if n.Subnet6.IsValid() {
		if err := enableForwarding6(); err != nil {
			return made, err
		}
		if err := enableBridgeNetfilter6(); err != nil {
			return made, err
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return made, fmt.Errorf("bridge %s up: %w", n.Bridge, err)
	}
	if err := enableForwarding(); err != nil {
		return made, err
	}
	if err := enableBridgeNetfilter(); err != nil {
		return made, err
	}
	// The chains must exist before the jumps to them. Existing ones keep
	// their rules (a restarted vchd: running containers stay filtered
	// until syncFirewall rewrites them).
	bins := []string{"iptables"}
	if n.Subnet6.IsValid() {
		bins = append(bins, "ip6tables")
	}
	for _, bin := range bins {
		for _, c := range []string{chainIn(n), chainOut(n)} {
			if xtables(bin, "-t", "mangle", "-n", "-L", c) != nil {
				if err := xtables(bin, "-t", "mangle", "-N", c); err != nil {
					return made, err
				}
			}
		}
	}
	return made, ensureRules(containerRules(n))
}

// teardownContainerHost removes a container network's rules and chains,
// and its bridge if the provider made it.
func teardownContainerHost(n network.Network) error {
	var errs []error
	if err := deleteRules(containerRules(n)); err != nil {
		errs = append(errs, err)
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, c := range []string{chainIn(n), chainOut(n)} {
			if xtables(bin, "-t", "mangle", "-F", c) == nil {
				if err := xtables(bin, "-t", "mangle", "-X", c); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if n.OwnBridge {
		if link, err := netlink.LinkByName(n.Bridge); err == nil {
			if err := netlink.LinkDel(link); err != nil {
				errs = append(errs, fmt.Errorf("delete bridge %s: %w", n.Bridge, err))
			}
		}
	}
	return errors.Join(errs...)
}

// enableBridgeNetfilter makes bridged IPv4 traffic pass iptables (of the
// network namespace vchd runs in), so a container network's firewall
// also holds between two of its ports.
func enableBridgeNetfilter() error {
	return enableBridgeNetfilterAt("/proc/sys/net/bridge/bridge-nf-call-iptables")
}

// enableBridgeNetfilter6 is enableBridgeNetfilter for ip6tables.
func enableBridgeNetfilter6() error {
	return enableBridgeNetfilterAt("/proc/sys/net/bridge/bridge-nf-call-ip6tables")
}

func enableBridgeNetfilterAt(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("container network firewall needs br_netfilter (modprobe br_netfilter): %w", err)
	}
	if strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable %s: %w", path, err)
	}
	return nil
}
