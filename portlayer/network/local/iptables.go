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
}

// rules are a network's host rules: outbound masquerade (unless
// internal) and forwarding. Traffic stays on the bridge, may leave for and
// come from non-VCH interfaces (unless internal), and is dropped towards
// any other VCH bridge (vch*): containers on different networks cannot
// reach each other. Order matters: ensureRules keeps it.
func rules(n network.Network) []rule {
	br, subnet := n.Bridge, n.Subnet.String()
	tag := []string{"-m", "comment", "--comment", "vch:" + br}
	var rs []rule
	if !n.Internal {
		rs = append(rs, rule{"nat", "POSTROUTING", append([]string{"-s", subnet, "!", "-o", br, "-j", "MASQUERADE"}, tag...)})
	}
	rs = append(rs,
		rule{"filter", "FORWARD", append([]string{"-i", br, "-o", br, "-j", "ACCEPT"}, tag...)},
		rule{"filter", "FORWARD", append([]string{"-i", br, "-o", "vch+", "-j", "DROP"}, tag...)},
	)
	if n.Internal {
		return append(rs,
			rule{"filter", "FORWARD", append([]string{"-i", br, "-j", "DROP"}, tag...)},
			rule{"filter", "FORWARD", append([]string{"-o", br, "-j", "DROP"}, tag...)},
		)
	}
	return append(rs,
		rule{"filter", "FORWARD", append([]string{"-i", br, "!", "-o", "vch+", "-j", "ACCEPT"}, tag...)},
		rule{"filter", "FORWARD", append([]string{"-o", br, "!", "-i", "vch+", "-j", "ACCEPT"}, tag...)},
	)
}

func iptables(args ...string) error {
	cmd := exec.Command("iptables", append([]string{"-w"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureRules makes rs present, in order, at the top of their chains. If
// any is missing, all are removed and inserted again, so their order holds.
func ensureRules(rs []rule) error {
	complete := true
	for _, r := range rs {
		if iptables(append([]string{"-t", r.table, "-C", r.chain}, r.spec...)...) != nil {
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
		if err := iptables(append([]string{"-t", r.table, "-I", r.chain}, r.spec...)...); err != nil {
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
			if iptables(append([]string{"-t", r.table, "-C", r.chain}, r.spec...)...) != nil {
				break
			}
			if err := iptables(append([]string{"-t", r.table, "-D", r.chain}, r.spec...)...); err != nil {
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
