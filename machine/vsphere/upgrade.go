package vsphere

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/vice"
)

// ErrUpToDate: the VCH already runs this version.
var ErrUpToDate = errors.New("already up to date")

// ErrNoUpgrade: rollback without an upgrade to undo.
var ErrNoUpgrade = errors.New("no upgrade to roll back")

const snapshotPrefix = "vch-upgrade from "

// Upgrade moves the VCH to version: it powers the endpoint VM off, takes
// a snapshot "vch-upgrade from OLD", records the new version (and the old
// one for rollback), and powers it on. A failure reverts to the snapshot.
// force upgrades even when the versions are equal.
func (s *Session) Upgrade(ctx context.Context, v *VCH, version string, force bool) error {
	c := *v.Config
	if c.Version == version && !force {
		return fmt.Errorf("VCH %s is at %s: %w (--force upgrades anyway)", c.Name, version, ErrUpToDate)
	}
	if snap, _ := v.VM.FindSnapshot(ctx, snapshotPrefix+c.Version); snap != nil {
		return fmt.Errorf("VCH %s has an upgrade snapshot from %s already: roll back with --rollback or remove the snapshot first", c.Name, c.Version)
	}
	if err := s.powerOff(ctx, v.VM); err != nil {
		return fmt.Errorf("power off endpoint VM %s: %w", v.ID, err)
	}
	snapName := snapshotPrefix + c.Version
	if err := waitTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return v.VM.CreateSnapshot(ctx, snapName, "taken by vic-machine upgrade to "+version, false, false)
	}); err != nil {
		_ = waitTask(ctx, v.VM.PowerOn)
		return fmt.Errorf("snapshot endpoint VM %s: %w", v.ID, err)
	}
	old := v.Config
	c.PreviousVersion, c.Version = c.Version, version
	err := s.writeConfig(ctx, v, &c)
	if err == nil {
		err = waitTask(ctx, v.VM.PowerOn)
	}
	if err != nil {
		if rerr := s.revert(ctx, v, old, snapName); rerr != nil {
			return fmt.Errorf("upgrade VCH %s: %w (and reverting failed: %v)", c.Name, err, rerr)
		}
		return fmt.Errorf("upgrade VCH %s: %w (reverted to %s)", c.Name, err, old.Version)
	}
	v.Config = &c
	s.log.Info("VCH upgraded", zap.String("vch", c.Name), zap.String("from", c.PreviousVersion), zap.String("to", version))
	return nil
}

// Rollback undoes the last upgrade: reverts the endpoint VM to its
// upgrade snapshot, restores the old version record and removes the
// snapshot.
func (s *Session) Rollback(ctx context.Context, v *VCH) error {
	c := *v.Config
	if c.PreviousVersion == "" {
		return fmt.Errorf("VCH %s: %w", c.Name, ErrNoUpgrade)
	}
	snapName := snapshotPrefix + c.PreviousVersion
	if snap, err := v.VM.FindSnapshot(ctx, snapName); err != nil || snap == nil {
		return fmt.Errorf("VCH %s: %w: snapshot %q is gone", c.Name, ErrNoUpgrade, snapName)
	}
	c.Version, c.PreviousVersion = c.PreviousVersion, ""
	if err := s.revert(ctx, v, &c, snapName); err != nil {
		return fmt.Errorf("roll back VCH %s: %w", c.Name, err)
	}
	v.Config = &c
	return nil
}

// revert powers the VM off, reverts to snapName, writes cfg (the revert
// restores it on vSphere; written again so the record is exact), removes
// the snapshot and powers on.
func (s *Session) revert(ctx context.Context, v *VCH, cfg *vice.Config, snapName string) error {
	if err := s.powerOff(ctx, v.VM); err != nil {
		return err
	}
	if err := waitTask(ctx, func(ctx context.Context) (*object.Task, error) { return v.VM.RevertToSnapshot(ctx, snapName, true) }); err != nil {
		return fmt.Errorf("revert to snapshot %q: %w", snapName, err)
	}
	if err := s.writeConfig(ctx, v, cfg); err != nil {
		return err
	}
	consolidate := true
	if err := waitTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return v.VM.RemoveSnapshot(ctx, snapName, false, &consolidate)
	}); err != nil {
		return fmt.Errorf("remove snapshot %q: %w", snapName, err)
	}
	return waitTask(ctx, v.VM.PowerOn)
}

func (s *Session) powerOff(ctx context.Context, vm *object.VirtualMachine) error {
	state, err := vm.PowerState(ctx)
	if err != nil {
		return err
	}
	if state == types.VirtualMachinePowerStatePoweredOff {
		return nil
	}
	return waitTask(ctx, vm.PowerOff)
}
