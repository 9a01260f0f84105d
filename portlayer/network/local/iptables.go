package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// rule is one iptables rule vchd owns: table, chain and match/target.
type rule struct {
	table, chain string
	spec         []string
}

// rules are the NAT network's host rules: outbound masquerade and
// forwarding to and from the bridge (in case FORWARD's policy is DROP).
func rules(bridge, subnet string) []rule {
	tag := []string{"-m", "comment", "--comment", "vch:" + bridge}
	return []rule{
		{"nat", "POSTROUTING", append([]string{"-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"}, tag...)},
		{"filter", "FORWARD", append([]string{"-i", bridge, "-j", "ACCEPT"}, tag...)},
		{"filter", "FORWARD", append([]string{"-o", bridge, "-j", "ACCEPT"}, tag...)},
	}
}

func iptables(args ...string) error {
	cmd := exec.Command("iptables", append([]string{"-w"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureRules adds the rules that are missing.
func ensureRules(rs []rule) error {
	for _, r := range rs {
		if iptables(append([]string{"-t", r.table, "-C", r.chain}, r.spec...)...) == nil {
			continue
		}
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
