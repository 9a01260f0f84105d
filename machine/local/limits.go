package local

import (
	"fmt"
	"path/filepath"

	"github.com/vchproject/vch/internal/cgroup"
	"github.com/vchproject/vch/machine/limits"
	"github.com/vchproject/vch/machine/vchconfig"
)

// validateLimits checks VCH-wide limits against each other, the host and
// the size of one container VM (containerMB, the default).
func validateLimits(l vchconfig.Limits, containerMB int64) error {
	h, err := limits.ReadHost()
	if err != nil {
		return err
	}
	if err := limits.Validate(l, h); err != nil {
		return err
	}
	if l.MemoryMB != 0 && containerMB != 0 && l.MemoryMB < containerMB {
		return fmt.Errorf("--memory %dMB cannot hold one container VM of %d MB (--container-memory): use at least %dMB, or a smaller --container-memory", l.MemoryMB, containerMB, containerMB)
	}
	return nil
}

// vchCgroup is the cgroup vchd recorded for the VCH at root (nil: none).
func vchCgroup(root string) (*cgroup.Group, error) {
	return cgroup.Load(filepath.Join(root, vchconfig.CgroupFile))
}

// checkLimitsInUse refuses limits below what the VCH at root already uses.
func checkLimitsInUse(cfg *vchconfig.Config, l vchconfig.Limits) error {
	g, err := vchCgroup(cfg.Root)
	if err != nil || g == nil || !g.Exists() {
		return err
	}
	usage, err := g.MemoryUsage()
	if err != nil {
		return err
	}
	return limits.CheckUsage(cfg.Name, l, usage)
}

// removeCgroup removes the VCH's cgroup once its processes are gone.
func removeCgroup(root string) {
	if g, err := vchCgroup(root); err == nil && g != nil {
		_ = g.Remove()
	}
}
