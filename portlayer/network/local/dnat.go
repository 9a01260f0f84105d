package local

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/portlayer/network"
)

// Published ports take the kernel's path: a DNAT rule per binding in the
// VCH's own nat chain sends packets for the host port straight to the
// container's address. The chain is entered from PREROUTING (packets from
// other hosts and namespaces, but not from a VCH bridge) and from OUTPUT
// (the host's own connections, 127.0.0.1 included: every bridge has
// route_localnet on, and loopback sources are masqueraded to the bridge
// address on the way out, see rules). The userland proxy still listens on
// every published port: it holds the port (a second -p gets "port is
// already allocated", as does any other program) and serves the
// connections no rule matches, those of containers on a VCH bridge to the
// host's address.

// natChain is the nat chain holding the DNAT rules of the VCH whose
// network state is in root (at most 28 characters).
func natChain(root string) string { return "VCH-" + BridgeName(root) }

// natJumps are the rules that enter chain, and the one that gives the
// host's loopback connections a source the container can answer (the
// bridge's address). They carry the comment "vch:" as every rule vchd
// owns.
func natJumps(chain string) []rule {
	tag := []string{"-m", "comment", "--comment", "vch:" + chain}
	return []rule{
		{"nat", "PREROUTING", append([]string{"-m", "addrtype", "--dst-type", "LOCAL", "!", "-i", "vch+", "-j", chain}, tag...), false},
		{"nat", "OUTPUT", append([]string{"-m", "addrtype", "--dst-type", "LOCAL", "-j", chain}, tag...), false},
		{"nat", "POSTROUTING", append([]string{"-s", "127.0.0.0/8", "-o", "vch+", "-j", "MASQUERADE"}, tag...), false},
	}
}

// ensureNATChain makes chain exist, empty, and entered from PREROUTING and
// OUTPUT. It is emptied at every start: the bindings of the endpoints
// still active are bound again (rebind), and what a container that died
// meanwhile held goes with it.
func ensureNATChain(chain string) error {
	if err := iptables("-t", "nat", "-N", chain); err != nil {
		if err := iptables("-t", "nat", "-F", chain); err != nil {
			return fmt.Errorf("nat chain %s: %w", chain, err)
		}
	}
	return ensureRules(natJumps(chain))
}

// deleteNATChain removes the chain, its rules and the jumps into it.
func deleteNATChain(chain string) error {
	err := deleteRules(natJumps(chain))
	if iptables("-t", "nat", "-L", chain, "-n") != nil {
		return err // no such chain
	}
	return errors.Join(err,
		iptables("-t", "nat", "-F", chain),
		iptables("-t", "nat", "-X", chain))
}

// dnatRule is the rule that sends b's packets to backend. A binding on a
// host IPv6 address has none (the proxy serves IPv4 only).
func dnatRule(chain string, b network.PortBinding, backend netip.AddrPort) (rule, bool) {
	if b.HostIP.IsValid() && !b.HostIP.Is4() || !backend.Addr().Is4() {
		return rule{}, false
	}
	spec := []string{"-p", b.Proto}
	if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
		spec = append(spec, "-d", b.HostIP.String())
	}
	spec = append(spec, "--dport", itoa(int(b.HostPort)), "-j", "DNAT", "--to-destination", backend.String(),
		"-m", "comment", "--comment", "vch:port")
	return rule{"nat", chain, spec, false}, true
}

// addDNAT appends b's rule to the chain unless it is there.
func addDNAT(chain string, b network.PortBinding, backend netip.AddrPort) error {
	r, ok := dnatRule(chain, b, backend)
	if !ok || r.op("-C") == nil {
		return nil
	}
	if err := r.op("-A"); err != nil {
		return fmt.Errorf("publish %s: %w", b, err)
	}
	return nil
}

// delDNAT removes b's rule, and for UDP the conntrack entries that still
// send the port's datagrams to the old address (a UDP "connection" lives
// as long as datagrams keep coming).
func delDNAT(chain string, b network.PortBinding, backend netip.AddrPort) error {
	r, ok := dnatRule(chain, b, backend)
	if !ok {
		return nil
	}
	err := deleteRules([]rule{r})
	if b.Proto == "udp" {
		f := &netlink.ConntrackFilter{}
		if e := f.AddProtocol(unix.IPPROTO_UDP); e == nil {
			if e = f.AddPort(netlink.ConntrackOrigDstPort, b.HostPort); e == nil {
				e = f.AddIP(netlink.ConntrackReplySrcIP, net.IP(backend.Addr().AsSlice()))
			}
			if e == nil {
				_, e = netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f)
			}
			err = errors.Join(err, e)
		}
	}
	return err
}

// tuneBridge sets the bridge's IPv4 settings for published ports:
// route_localnet lets packets from 127.0.0.0/8 that a DNAT rule sent to a
// container leave through the bridge (the kernel drops them as martians
// otherwise); arp_accept takes the gratuitous ARP a container VM sends as
// its NIC comes up (the tether sets arp_notify), so the first packet to a
// new container needs no ARP round.
func tuneBridge(bridge string) error {
	for _, key := range []string{"route_localnet", "arp_accept"} {
		path := "/proc/sys/net/ipv4/conf/" + bridge + "/" + key
		b, err := os.ReadFile(path)
		if err == nil && strings.TrimSpace(string(b)) == "1" {
			continue
		}
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("%s on %s: %w", key, bridge, err)
		}
	}
	return nil
}
