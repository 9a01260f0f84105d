package vsphere

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Rulesets the container VMs' network serial ports need (outbound TCP to
// the VCH's serial concentrator, port 2377), in order of preference:
// "vic-engine" (installed with the VIC VIB on ESXi 6.7+) and the built-in
// "vSPC" ("VM serial port connected to vSPC").
var Rulesets = []string{"vic-engine", "vSPC"}

// HostFirewall is the outcome on one host.
type HostFirewall struct {
	Host    string
	Ruleset string
	Was     bool // enabled before
}

// UpdateFirewall enables (allow) or disables the serial-port ruleset on
// every host of the compute resource. Hosts are checked first: if one
// has neither ruleset, nothing changes.
func (s *Session) UpdateFirewall(ctx context.Context, compute string, allow bool) ([]HostFirewall, error) {
	place, err := s.ResolveCompute(ctx, compute)
	if err != nil {
		return nil, err
	}
	type target struct {
		fw   *object.HostFirewallSystem
		info HostFirewall
	}
	var targets []target
	for _, ref := range place.Hosts {
		var h mo.HostSystem
		if err := s.propertiesOf(ctx, ref, []string{"name", "configManager.firewallSystem"}, &h); err != nil {
			return nil, fmt.Errorf("host %s: %w", ref.Value, err)
		}
		if h.ConfigManager.FirewallSystem == nil {
			return nil, fmt.Errorf("host %s has no firewall system", h.Name)
		}
		fw := object.NewHostFirewallSystem(s.Client, *h.ConfigManager.FirewallSystem)
		info, err := fw.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("firewall of host %s: %w", h.Name, err)
		}
		rs := pickRuleset(info.Ruleset)
		if rs == nil {
			return nil, fmt.Errorf("host %s has no firewall ruleset %s: nothing changed", h.Name, Rulesets)
		}
		targets = append(targets, target{fw, HostFirewall{Host: h.Name, Ruleset: rs.Key, Was: rs.Enabled}})
	}
	var out []HostFirewall
	for _, t := range targets {
		var err error
		if allow {
			err = t.fw.EnableRuleset(ctx, t.info.Ruleset)
		} else {
			err = t.fw.DisableRuleset(ctx, t.info.Ruleset)
		}
		if err != nil {
			return out, fmt.Errorf("host %s: ruleset %s: %w", t.info.Host, t.info.Ruleset, err)
		}
		out = append(out, t.info)
	}
	return out, nil
}

func pickRuleset(l []types.HostFirewallRuleset) *types.HostFirewallRuleset {
	for _, want := range Rulesets {
		for i := range l {
			if l[i].Key == want {
				return &l[i]
			}
		}
	}
	return nil
}
