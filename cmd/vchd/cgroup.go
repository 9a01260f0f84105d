package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"go.uber.org/zap"

	"github.com/vchproject/vch/backends/system"
	"github.com/vchproject/vch/internal/cgroup"
	"github.com/vchproject/vch/machine/firewall"
	"github.com/vchproject/vch/machine/limits"
	"github.com/vchproject/vch/machine/vchconfig"
)

// joinCgroup puts vchd into its VCH's cgroup, made on first start and
// recorded in the VCH's directory, and applies the VCH's limits to it.
// Every QEMU vchd launches is born in that group, so the limits hold for
// all container VMs together; VMs of an earlier vchd are already in it.
// Without cgroups a VCH that has no limits still runs.
func joinCgroup(cfg *vchconfig.Config, host limits.Host, log *zap.Logger) error {
	rec := filepath.Join(cfg.Root, vchconfig.CgroupFile)
	g, err := cgroup.Load(rec)
	if err == nil && g != nil {
		err = g.Ensure()
	}
	if err == nil && g == nil {
		if g, err = cgroup.Create(limits.GroupName(cfg.Name, cfg.Root)); err == nil {
			err = g.Save(rec)
		}
	}
	if err == nil {
		err = g.Add(os.Getpid())
	}
	if err == nil {
		// The group holds running VMs: a setting the kernel refuses
		// (e.g. a memory limit below what they use by now) must not keep
		// vchd from serving them. vic-machine checked it beforehand.
		if aerr := g.Apply(limits.Settings(cfg.Limits, host)); aerr != nil {
			log.Error("VCH limits not fully applied", zap.Error(aerr))
		}
	}
	if err != nil {
		if limits.Set(cfg.Limits) {
			return fmt.Errorf("VCH limits need cgroups: %w", err)
		}
		log.Warn("running without a VCH cgroup (no limits are set)", zap.Error(err))
		return nil
	}
	log.Info("joined the VCH cgroup", zap.Any("dirs", g.Dirs), zap.Any("limits", cfg.Limits))
	return nil
}

// systemLimits is what docker info shows of the VCH's limits.
func systemLimits(l vchconfig.Limits, h limits.Host) system.Limits {
	out := system.Limits{Status: limits.Rows(l, h), MemTotal: l.MemoryMB << 20}
	if !l.CPU.IsZero() {
		out.NCPU = int((h.MilliCores(l.CPU) + 999) / 1000)
	}
	return out
}

// applyFirewall restores the API port's firewall rule of vic-machine
// update firewall.
func applyFirewall(cfg *vchconfig.Config) error {
	_, p, err := net.SplitHostPort(cfg.APIAddr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return err
	}
	if err := firewall.Apply(cfg.Firewall, cfg.Name, port); err != nil {
		return fmt.Errorf("firewall rule of the API port: %w", err)
	}
	return nil
}
