package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/vchconfig"
)

// viceConfig is the start of vchd on a vSphere VCH's endpoint: the VCH's
// config is the guestinfo.vice keys vic-machine create --target wrote into
// the endpoint VM, here read from environ as a docker-backed simulator VM
// gets them (VMX_GUESTINFO_*); the appliance's own settings (root, API
// address, TLS files) are the JSON file at appliancePath. It writes the
// resulting config to ROOT/config.json and returns that path.
func viceConfig(appliancePath string, environ []string) (string, error) {
	b, err := os.ReadFile(appliancePath)
	if err != nil {
		return "", fmt.Errorf("appliance settings: %w", err)
	}
	var a vchconfig.Appliance
	if err := json.Unmarshal(b, &a); err != nil {
		return "", fmt.Errorf("appliance settings %s: %w", appliancePath, err)
	}
	kv := vice.FromEnv(environ)
	if !vice.IsVCH(kv) {
		return "", fmt.Errorf("no VCH config in the guestinfo (%s* variables)", vice.EnvPrefix)
	}
	v, err := vice.Decode(kv)
	if err != nil {
		return "", fmt.Errorf("guestinfo VCH config: %w", err)
	}
	cfg, err := vchconfig.FromVice(v, a)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return "", err
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(cfg.Root, vchconfig.FileName)
	if err := atomicfile.WriteFile(path, out, 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}
