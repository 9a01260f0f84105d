package local

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/vchproject/vch/machine/firewall"
	"github.com/vchproject/vch/machine/vchconfig"
)

// UpdateFirewall opens (firewall.Allow) or closes (firewall.Deny) the
// VCH's API port in the host firewall of the network namespace it is run
// in (vchd's), records the policy in the config (vchd applies it again at
// start) and returns the port.
func UpdateFirewall(stateDir, name, policy string) (int, error) {
	root := filepath.Join(StateDir(stateDir), name)
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		return 0, fmt.Errorf("VCH %q not found in %s: check the name with vic-machine ls", name, StateDir(stateDir))
	}
	port, err := APIPort(cfg)
	if err != nil {
		return 0, err
	}
	if err := firewall.Apply(policy, cfg.Name, port); err != nil {
		return 0, err
	}
	cfg.Firewall = policy
	return port, cfg.Save(vchconfig.Path(root))
}

// APIPort is the port of a VCH's Docker API.
func APIPort(cfg *vchconfig.Config) (int, error) {
	_, p, err := net.SplitHostPort(cfg.APIAddr)
	if err != nil {
		return 0, fmt.Errorf("VCH %s: API address %q: %w", cfg.Name, cfg.APIAddr, err)
	}
	return strconv.Atoi(p)
}
