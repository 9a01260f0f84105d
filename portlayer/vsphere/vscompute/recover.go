package vscompute

import (
	"context"
	"time"

	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"
)

// errLost is the error of a run whose VM powered off without the provider
// (a vchd death between the power off and the record, or an operator).
const errLost = "the VM powered off without reporting an exit code"

// Open is New followed by recovery: a VM left on for a maintenance boot
// by a vchd that died during it (docker cp, diff, export of a container
// that was not running; KeyMaint) is powered off and unmarked, its
// record untouched, so the container reads as it was (created, or exited
// with its exit code). Every VM of this VCH that is off but recorded as
// running is an ended run: networking is told (Detach) and the run is
// recorded as exited with 255, so the docker view and the leases agree
// with vSphere after a vchd restart.
func Open(ctx context.Context, cfg Config) (*Provider, error) {
	p, err := New(cfg)
	if err != nil {
		return nil, err
	}
	all, err := p.list(ctx)
	if err != nil {
		_ = p.Close()
		return nil, err
	}
	for _, c := range all {
		if err := p.sweepMaintenance(ctx, c); err != nil {
			_ = p.Close()
			return nil, err
		}
		if c.power != types.VirtualMachinePowerStatePoweredOff || !c.rec.Running || c.rec.Exited {
			continue
		}
		p.log.Info("container VM found powered off", zap.String("id", c.spec.ID), zap.String("vm", c.name))
		p.detach(ctx, c.spec.ID)
		c.rec.Running, c.rec.Exited, c.rec.ExitCode = false, true, 255
		c.rec.Error, c.rec.FinishedAt, c.rec.GuestPid = errLost, time.Now().UTC(), 0
		if err := p.writeRecord(ctx, c); err != nil {
			_ = p.Close()
			return nil, err
		}
	}
	return p, nil
}
