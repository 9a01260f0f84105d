// Package firewall opens or closes a VCH's Docker API port in the host
// firewall (iptables, filter table, INPUT chain) for vic-machine update
// firewall. Rules carry the comment "vch-api:NAME" so that they can be
// found and removed; loopback stays open either way, so local clients
// and vic-machine keep reaching the VCH.
package firewall

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Policies of a VCH's API port.
const (
	Allow = "allow" // an ACCEPT rule: open even where INPUT's policy drops
	Deny  = "deny"  // a REJECT rule (TCP reset) for all but loopback
)

func tag(name string) string { return "vch-api:" + name }

// specs are the rule of each policy for a VCH's port.
func spec(policy, name string, port int) []string {
	base := []string{"-p", "tcp", "--dport", strconv.Itoa(port), "-m", "comment", "--comment", tag(name)}
	if policy == Deny {
		return append([]string{"!", "-i", "lo"}, append(base, "-j", "REJECT", "--reject-with", "tcp-reset")...)
	}
	return append(base, "-j", "ACCEPT")
}

func iptables(args ...string) (string, error) {
	out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Apply makes policy the VCH's only rule: Allow or Deny, or "" for none.
func Apply(policy, name string, port int) error {
	if policy != "" && policy != Allow && policy != Deny {
		return fmt.Errorf("unknown firewall policy %q: use allow or deny", policy)
	}
	if err := Remove(name); err != nil {
		return err
	}
	if policy == "" {
		return nil
	}
	// First in the chain, so that no other rule decides before it.
	_, err := iptables(append([]string{"-I", "INPUT", "1"}, spec(policy, name, port)...)...)
	return err
}

// Remove deletes every rule of the VCH.
func Remove(name string) error {
	out, err := iptables("-S", "INPUT")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "-A INPUT ") || !strings.Contains(line, `--comment `+tag(name)+` `) && !strings.Contains(line, `--comment "`+tag(name)+`"`) {
			continue
		}
		args := strings.Fields(strings.TrimPrefix(line, "-A INPUT "))
		for i := range args {
			args[i] = strings.Trim(args[i], `"`)
		}
		if _, err := iptables(append([]string{"-D", "INPUT"}, args...)...); err != nil {
			return err
		}
	}
	return nil
}

// Rules lists the VCH's rules as iptables -S prints them.
func Rules(name string) ([]string, error) {
	out, err := iptables("-S", "INPUT")
	if err != nil {
		return nil, err
	}
	var rules []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, tag(name)) {
			rules = append(rules, line)
		}
	}
	return rules, nil
}
