package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/vchproject/vch/portlayer/network"
)

// rule is one iptables rule vchd owns: table, chain and match/target.
type rule struct {
	table, chain string
	spec         []string
	v6           bool // an ip6tables rule
}

// rules are a network's host rules: outbound masquerade (unless
// internal) and forwarding. Traffic stays on the bridge, may leave for and
// come from non-VCH interfaces (unless internal), and is dropped towards
// any other VCH bridge (vch*): containers on different networks cannot
// reach each other. Order matters: ensureRules keeps it.
func rules(n network.Network) []rule {
	rs := rulesFor(n, n.Subnet.String())
	if n.Subnet6.IsValid() {
		for _, r := range rulesFor(n, n.Subnet6.String()) {
			r.v6 = true
			rs = append(rs, r)
		}
	}
	return rs
}

func rulesFor(n network.Network, subnet string) []rule {
	br := n.Bridge
	tag := []string{"-m", "comment", "--comment", "vch:" + br}
	var rs []rule
	if !n.Internal {
		rs = append(rs, rule{"nat", "POSTROUTING", append([]string{"-s", subnet, "!", "-o", br, "-j", "MASQUERADE"}, tag...), false})
	}
	rs = append(rs,
		rule{"filter", "FORWARD", append([]string{"-i", br, "-o", br, "-j", "ACCEPT"}, tag...), false},
		rule{"filter", "FORWARD", append([]string{"-i", br, "-o", "vch+", "-j", "DROP"}, tag...), false},
	)
	if n.Internal {
		return append(rs,
			rule{"filter", "FORWARD", append([]string{"-i", br, "-j", "DROP"}, tag...), false},
			rule{"filter", "FORWARD", append([]string{"-o", br, "-j", "DROP"}, tag...), false},
		)
	}
	return append(rs,
		rule{"filter", "FORWARD", append([]string{"-i", br, "!", "-o", "vch+", "-j", "ACCEPT"}, tag...), false},
		rule{"filter", "FORWARD", append([]string{"-o", br, "!", "-i", "vch+", "-j", "ACCEPT"}, tag...), false},
	)
}

func iptables(args ...string) error { return xtables("iptables", args...) }

// op runs iptables (ip6tables for a v6 rule) with -t TABLE OP CHAIN SPEC.
func (r rule) op(op string) error {
	bin := "iptables"
	if r.v6 {
		bin = "ip6tables"
	}
	return xtables(bin, append([]string{"-t", r.table, op, r.chain}, r.spec...)...)
}

func xtables(bin string, args ...string) error {
	cmd := exec.Command(bin, append([]string{"-w"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureRules makes rs present, in order, at the top of their chains. If
// any is missing, all are removed and inserted again, so their order holds.
func ensureRules(rs []rule) error {
	complete := true
	for _, r := range rs {
		if r.op("-C") != nil {
			complete = false
			break
		}
	}
	if complete {
		return nil
	}
	if err := deleteRules(rs); err != nil {
		return err
	}
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if err := r.op("-I"); err != nil {
			return err
		}
	}
	return nil
}

// deleteRules removes every copy of the rules.
func deleteRules(rs []rule) error {
	var errs []error
	for _, r := range rs {
		for i := 0; i < 16; i++ {
			if r.op("-C") != nil {
				break
			}
			if err := r.op("-D"); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return errors.Join(errs...)
}

// enableForwarding turns on IPv4 forwarding (of the network namespace
// vchd runs in).
func enableForwarding() error {
	const path = "/proc/sys/net/ipv4/ip_forward"
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable IPv4 forwarding: %w", err)
	}
	return nil
}

// enableForwarding6 turns on IPv6 forwarding (of vchd's network
// namespace), for IPv6-enabled networks.
func enableForwarding6() error {
	const path = "/proc/sys/net/ipv6/conf/all/forwarding"
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable IPv6 forwarding: %w", err)
	}
	return nil
}
