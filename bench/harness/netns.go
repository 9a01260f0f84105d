package harness

import (
	"context"
	"fmt"
	"golang.org/x/sys/unix"
	"net"
	"os/exec"

	"github.com/vchproject/vch/errdefs"
)

// CheckNetns verifies that this process runs in the network namespace
// bound at nsPath (e.g. /run/netns/vchbench-123, made by bench/run) and that
// lo is its only interface, then brings lo up.
func CheckNetns(ctx context.Context, nsPath string) error {
	if nsPath == "" {
		return fmt.Errorf("harness: no network namespace given; start through bench/run: %w", errdefs.ErrFailedPrecondition)
	}
	var self, want unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &self); err != nil {
		return fmt.Errorf("harness: stat own netns: %w", err)
	}
	if err := unix.Stat(nsPath, &want); err != nil {
		return fmt.Errorf("harness: stat %s: %w", nsPath, err)
	}
	if self.Ino != want.Ino || self.Dev != want.Dev {
		return fmt.Errorf("harness: not running in %s; start through bench/run: %w", nsPath, errdefs.ErrFailedPrecondition)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("harness: list interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Name != "lo" {
			return fmt.Errorf("harness: interface %s in the benchmark namespace; only lo may exist at start: %w", i.Name, errdefs.ErrFailedPrecondition)
		}
	}
	if out, err := exec.CommandContext(ctx, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("harness: lo up: %s: %w", out, err)
	}
	return nil
}
