package qemu

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/compute"
)

// File names inside a container directory.
const (
	fileSpec    = "spec.json"
	fileStatus  = "status.json"
	fileRW      = "rw.ext4"
	fileLog     = "output.log"
	fileConsole = "console.log"
	fileQEMUOut = "qemu.out"
	fileConfig  = "config.img"
	fileCtl     = "ctl.sock"
	fileQMP     = "qmp.sock"
	filePid     = "qemu.pid"
)

// record is status.json: the compute status plus what a restarted vchd
// needs to resume following the current run.
type record struct {
	compute.Status
	// LogStart is output.log's size when the current (or last) run was
	// launched: records of that run start there.
	LogStart int64 `json:"logStart"`
	// Launched is set from launch until the VM exit was observed.
	Launched bool `json:"launched,omitempty"`
	// HostKey pins the running tether's SSH host key (authorized_keys form).
	HostKey string `json:"hostKey,omitempty"`
	// Sizes were last measured in the VM (ps -s of a stopped container).
	Sizes *compute.Sizes `json:"sizes,omitempty"`
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func saveSpec(dir string, s *compute.Spec) error { return writeJSON(filepath.Join(dir, fileSpec), s) }

func saveRecord(dir string, r *record) error { return writeJSON(filepath.Join(dir, fileStatus), r) }

// loadContainer reads a container directory's spec.json and status.json.
func loadContainer(dir string) (compute.Spec, record, error) {
	var s compute.Spec
	var r record
	if err := readJSON(filepath.Join(dir, fileSpec), &s); err != nil {
		return s, r, err
	}
	if err := readJSON(filepath.Join(dir, fileStatus), &r); err != nil {
		return s, r, err
	}
	return s, r, nil
}
