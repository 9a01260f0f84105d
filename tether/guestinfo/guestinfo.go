// Package guestinfo reads a vSphere VM's guestinfo keys from inside the
// guest: the tether's config source on vSphere.
//
// Two sources implement Source. Env reads the VMX_GUESTINFO_* variables
// through which govmomi's simulator hands guestinfo to the docker
// container backing a VM (tested). RPCTool asks the VMware backdoor
// through open-vm-tools' vmware-rpctool ("info-get guestinfo.KEY"), how a
// real ESXi VM reads them (written, untested here: no ESXi and no
// backdoor in this environment).
package guestinfo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
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

// RPCTool reads keys through the VMware backdoor with vmware-rpctool
// (Path; empty: found in PATH). Untested: nothing here provides the
// backdoor.
type RPCTool struct {
	Path string
}

// Get runs `vmware-rpctool "info-get KEY"`; an empty answer is ErrNotSet.
func (r RPCTool) Get(key string) (string, error) {
	path := r.Path
	if path == "" {
		path = "vmware-rpctool"
	}
	out, err := exec.Command(path, "info-get "+key).Output()
	if err != nil {
		return "", fmt.Errorf("vmware-rpctool info-get %s: %w", key, err)
	}
	v := strings.TrimRight(string(out), "\n")
	if v == "" {
		return "", fmt.Errorf("%s: %w", key, ErrNotSet)
	}
	return v, nil
}
