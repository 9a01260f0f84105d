package main

import (
	"bytes"
	"fmt"
	"os"

	"go.uber.org/zap"
)

// ksmRun is the host's KSM switch: 0 stopped, 1 running, 2 unmerge all.
const ksmRun = "/sys/kernel/mm/ksm/run"

// enableKSM starts the host's ksmd if it is stopped (the VCH was created
// with --ksm). QEMU marks guest RAM mergeable by default, so ksmd then
// merges identical pages across container VMs. The switch is host-wide and
// left on when vchd exits: other users of the host may rely on it too.
func enableKSM(log *zap.Logger) error {
	cur, err := os.ReadFile(ksmRun)
	if err != nil {
		return fmt.Errorf("--ksm: this host has no KSM (%w)", err)
	}
	if string(bytes.TrimSpace(cur)) == "1" {
		log.Info("KSM already running")
		return nil
	}
	if err := os.WriteFile(ksmRun, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("--ksm: start ksmd: %w", err)
	}
	log.Warn("KSM turned on for the whole host (VCH created with --ksm): " + ksmRun + "=1")
	return nil
}
