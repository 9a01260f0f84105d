// Package guestinfo reads a vSphere VM's guestinfo keys from inside the
// guest: the tether's config source on vSphere.
//
// Three sources implement Source:
//   - Env reads the VMX_GUESTINFO_* variables through which govmomi's
//     simulator hands guestinfo to the docker container backing a VM;
//   - Backdoor asks the VMware backdoor ("info-get guestinfo.KEY", RPCI
//     through github.com/vmware/vmw-guestinfo), how a VM on ESXi reads
//     them (untested here: no ESXi, and QEMU's vmport has no RPCI);
//   - FwCfg reads them from one JSON object that a QEMU standing in for
//     ESXi (vsimtest.QEMUHost) hands the guest through fw_cfg.
//
// ForVM picks the source of a booted VM: the backdoor on a VMware CPU,
// else fw_cfg.
package guestinfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vmware/vmw-guestinfo/rpcvmx"
	"github.com/vmware/vmw-guestinfo/vmcheck"
)

// ErrNotSet: the key has no value.
var ErrNotSet = errors.New("guestinfo key not set")

// Source reads guestinfo keys ("guestinfo.vch.id").
type Source interface {
	Get(key string) (string, error)
}

// EnvName is the variable the simulator sets for key: upper case, "." as
// "_" (guestinfo.vch.id -> VMX_GUESTINFO_VCH_ID).
func EnvName(key string) string {
	return "VMX_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Env reads keys from the process environment (LookupEnv: nil means
// os.LookupEnv).
type Env struct {
	LookupEnv func(string) (string, bool)
}

// Get returns the key's value or ErrNotSet.
func (e Env) Get(key string) (string, error) {
	look := e.LookupEnv
	if look == nil {
		look = os.LookupEnv
	}
	v, ok := look(EnvName(key))
	if !ok {
		return "", fmt.Errorf("%s (%s): %w", key, EnvName(key), ErrNotSet)
	}
	return v, nil
}

// Backdoor reads keys through the VMware backdoor (an ESXi VM).
type Backdoor struct{}

// Get asks the hypervisor for the key; an unset or empty key is ErrNotSet.
func (Backdoor) Get(key string) (string, error) {
	v, err := rpcvmx.NewConfig().String(key, "")
	if err != nil {
		return "", fmt.Errorf("guestinfo %s through the VMware backdoor: %w", key, err)
	}
	if v == "" {
		return "", fmt.Errorf("%s: %w", key, ErrNotSet)
	}
	return v, nil
}

// FwCfgName is the fw_cfg item holding the guestinfo keys as one JSON
// object {"guestinfo.vch.id": "...", ...}; FwCfgPath is where the
// guest's qemu_fw_cfg driver shows its content.
const (
	FwCfgName = "opt/vch/guestinfo"
	FwCfgPath = "/sys/firmware/qemu_fw_cfg/by_name/" + FwCfgName + "/raw"
)

// FwCfg holds the keys read from a fw_cfg item.
type FwCfg map[string]string

// ReadFwCfg reads the keys from path (FwCfgPath in a guest).
func ReadFwCfg(path string) (FwCfg, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("guestinfo from fw_cfg: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("guestinfo from fw_cfg %s: %w", path, err)
	}
	return FwCfg(m), nil
}

// Get returns the key's value or ErrNotSet.
func (f FwCfg) Get(key string) (string, error) {
	v, ok := f[key]
	if !ok || v == "" {
		return "", fmt.Errorf("%s: %w", key, ErrNotSet)
	}
	return v, nil
}

// ForVM returns the guestinfo source of a VM that booted the bootstrap
// ISO: the backdoor when the CPU says VMware (the CPUID check touches no
// I/O port, so it is safe anywhere), else the fw_cfg item at fwCfgPath.
func ForVM(fwCfgPath string) (Source, error) {
	if vmcheck.IsVirtualCPU() {
		return Backdoor{}, nil
	}
	return ReadFwCfg(fwCfgPath)
}
