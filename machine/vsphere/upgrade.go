package vsphere

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/vice"
)

// ErrUpToDate: the VCH already runs this version.
var ErrUpToDate = errors.New("already up to date")

// ErrNoUpgrade: rollback without an upgrade to undo.
var ErrNoUpgrade = errors.New("no upgrade to roll back")

const snapshotPrefix = "vch-upgrade from "

// UpgradeISOs are the new boot images an upgrade uploads (local files;
// "" keeps the VCH's).
type UpgradeISOs struct {
	Appliance, Bootstrap string
}

// Upgrade moves the VCH to version: it powers the endpoint VM off, takes
// a snapshot "vch-upgrade from OLD", uploads the new ISOs beside the old
// ones (appliance-VERSION.iso, bootstrap-VERSION.iso: the old files stay,
// since the snapshot's CD-ROM and the containers made before still boot
// them), puts the new appliance in the endpoint's CD-ROM, gives the
// endpoint its data disk if it has none (a VCH made before create gave it
// one: vchd's state on tmpfs is lost with this power off, the data disk
// keeps it from now on), records the new version and ISOs (and the old
// ones for rollback), and powers it on. A
// failure reverts to the snapshot and removes what it uploaded. force
// upgrades even when the versions are equal.
func (s *Session) Upgrade(ctx context.Context, v *VCH, version string, force bool, isos UpgradeISOs) error {
	c := *v.Config
	if c.Version == version && !force {
		return fmt.Errorf("VCH %s is at %s: %w (--force upgrades anyway)", c.Name, version, ErrUpToDate)
	}
	for _, f := range []struct{ flag, file string }{{"--appliance-iso", isos.Appliance}, {"--bootstrap-iso", isos.Bootstrap}} {
		if f.file == "" {
			continue
		}
		if st, err := os.Stat(f.file); err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("%s %s: not a readable file", f.flag, f.file)
		}
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
	c.PreviousISO = c.ISO
	var u undoStack
	var err error
	if c.Ops.GrantPerms {
		err = s.upgradeOpsGrants(ctx, &c, &u)
	}
	var uploaded []string
	if err == nil {
		uploaded, err = s.upgradeISOs(ctx, v, &c, isos)
	}
	if err == nil {
		err = s.endpointSCSI(ctx, v)
	}
	var added *types.VirtualDisk
	if err == nil {
		added, err = s.endpointDataDisk(ctx, v)
	}
	if err == nil {
		err = s.writeConfig(ctx, v, &c)
	}
	if err == nil {
		err = waitTask(ctx, v.VM.PowerOn)
	}
	if err != nil {
		// A data disk this upgrade added goes with its file first (a
		// revert would leave its file behind, or, on the simulator, the
		// disk too). added is set whenever AddDevice succeeded, even if
		// reading the disk back failed: the disk is found again here.
		if added != nil {
			if derr := s.removeDataDisk(context.WithoutCancel(ctx), v); derr != nil {
				s.log.Warn("the data disk this upgrade added not removed", zap.String("vch", c.Name), zap.Error(derr))
			}
		}
		if uerr := u.run(ctx, s.log); uerr != nil {
			s.log.Warn("the ops grants this upgrade added not all taken back", zap.String("vch", c.Name), zap.Error(uerr))
		}
		rerr := s.revert(ctx, v, old, snapName)
		s.removeFiles(context.WithoutCancel(ctx), uploaded)
		if rerr != nil {
			return fmt.Errorf("upgrade VCH %s: %w (and reverting failed: %v)", c.Name, err, rerr)
		}
		return fmt.Errorf("upgrade VCH %s: %w (reverted to %s)", c.Name, err, old.Version)
	}
	v.Config = &c
	s.log.Info("VCH upgraded", zap.String("vch", c.Name), zap.String("from", c.PreviousVersion), zap.String("to", version))
	return nil
}

// isoName is a version as a file name part.
var isoName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// upgradeISOs uploads the new ISOs into the endpoint VM's folder, sets
// them in c and swaps the endpoint's CD-ROM to the new appliance; it
// returns the datastore paths it uploaded.
func (s *Session) upgradeISOs(ctx context.Context, v *VCH, c *vice.Config, isos UpgradeISOs) ([]string, error) {
	var uploaded []string
	dir, err := s.vmFolderPath(ctx, v)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		kind, file string
		dst        *string
	}{{"appliance", isos.Appliance, &c.ISO.Appliance}, {"bootstrap", isos.Bootstrap, &c.ISO.Bootstrap}} {
		if f.file == "" {
			continue
		}
		var dp object.DatastorePath
		if !dp.FromString(dir) {
			return uploaded, fmt.Errorf("endpoint VM folder %q", dir)
		}
		dp.Path = path.Join(dp.Path, f.kind+"-"+isoName.ReplaceAllString(c.Version, "_")+".iso")
		ds, err := s.Finder.Datastore(ctx, dp.Datastore)
		if err != nil {
			return uploaded, fmt.Errorf("datastore %s: %w", dp.Datastore, err)
		}
		if err := ds.UploadFile(ctx, f.file, dp.Path, &soap.DefaultUpload); err != nil {
			return uploaded, fmt.Errorf("upload %s to %s: %w", f.file, dp.String(), err)
		}
		uploaded = append(uploaded, dp.String())
		*f.dst = dp.String()
	}
	if isos.Appliance == "" {
		return uploaded, nil
	}
	return uploaded, s.applianceCD(ctx, v, c.ISO.Appliance)
}

// applianceCD puts iso in the endpoint VM's CD-ROM (adding one if it has
// none).
func (s *Session) applianceCD(ctx context.Context, v *VCH, iso string) error {
	devices, err := v.VM.Device(ctx)
	if err != nil {
		return fmt.Errorf("devices of endpoint VM: %w", err)
	}
	cds := devices.SelectByType((*types.VirtualCdrom)(nil))
	if len(cds) == 0 {
		ide := devices.PickController((*types.VirtualIDEController)(nil))
		if ide == nil {
			return fmt.Errorf("endpoint VM %s has no CD-ROM and no IDE controller for one", v.ID)
		}
		cd, err := devices.CreateCdrom(ide.(*types.VirtualIDEController))
		if err != nil {
			return fmt.Errorf("CD-ROM: %w", err)
		}
		if err := v.VM.AddDevice(ctx, devices.InsertIso(cd, iso)); err != nil {
			return fmt.Errorf("add CD-ROM with %s: %w", iso, err)
		}
		return nil
	}
	cd := cds[0].(*types.VirtualCdrom)
	if b, ok := cd.Backing.(*types.VirtualCdromIsoBackingInfo); ok && b.FileName == iso {
		return nil
	}
	if err := v.VM.EditDevice(ctx, devices.InsertIso(cd, iso)); err != nil {
		return fmt.Errorf("put %s in the endpoint's CD-ROM: %w", iso, err)
	}
	return nil
}

// endpointSCSI gives the endpoint VM the PVSCSI controller vchd attaches
// image layer disks to while it writes them, if it has none (a VCH made
// before create gave it one).
func (s *Session) endpointSCSI(ctx context.Context, v *VCH) error {
	devices, err := v.VM.Device(ctx)
	if err != nil {
		return fmt.Errorf("devices of endpoint VM: %w", err)
	}
	if len(devices.SelectByType((*types.ParaVirtualSCSIController)(nil))) > 0 {
		return nil
	}
	c, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		return fmt.Errorf("PVSCSI controller: %w", err)
	}
	if err := v.VM.AddDevice(ctx, c); err != nil {
		return fmt.Errorf("add a PVSCSI controller to endpoint VM %s: %w", v.ID, err)
	}
	return nil
}

// vmFolderPath is the endpoint VM's folder, "[ds] NAME".
func (s *Session) vmFolderPath(ctx context.Context, v *VCH) (string, error) {
	var m mo.VirtualMachine
	if err := v.VM.Properties(ctx, v.VM.Reference(), []string{"config.files.vmPathName"}, &m); err != nil {
		return "", fmt.Errorf("endpoint VM %s files: %w", v.ID, err)
	}
	if m.Config == nil {
		return "", fmt.Errorf("endpoint VM %s has no config", v.ID)
	}
	var dp object.DatastorePath
	if !dp.FromString(m.Config.Files.VmPathName) {
		return "", fmt.Errorf("endpoint VM %s: path %q", v.ID, m.Config.Files.VmPathName)
	}
	dp.Path = path.Dir(dp.Path)
	return dp.String(), nil
}

// removeFiles deletes datastore files (best effort, logged).
func (s *Session) removeFiles(ctx context.Context, files []string) {
	fm := object.NewFileManager(s.Client)
	for _, f := range files {
		task, err := fm.DeleteDatastoreFile(ctx, f, s.Datacenter)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			s.log.Warn("uploaded ISO not removed", zap.String("file", f), zap.Error(err))
		}
	}
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
	if c.PreviousISO != (vice.ISO{}) {
		c.ISO, c.PreviousISO = c.PreviousISO, vice.ISO{}
	}
	// The data disk's file before the revert: if the upgrade added the
	// disk, the snapshot predates it and the revert drops the device but
	// not its file (vSphere keeps a disk's file that no snapshot owns).
	before, err := s.dataDiskFile(ctx, v)
	if err != nil {
		return fmt.Errorf("roll back VCH %s: %w", c.Name, err)
	}
	if err := s.revert(ctx, v, &c, snapName); err != nil {
		return fmt.Errorf("roll back VCH %s: %w", c.Name, err)
	}
	v.Config = &c
	if err := s.removeOrphanDataDisk(ctx, v, before); err != nil {
		return fmt.Errorf("rolled back VCH %s, but the data disk the upgrade added stays: %w", c.Name, err)
	}
	return nil
}

// dataDiskFile is the file of the endpoint VM's data disk, "" if it has
// none.
func (s *Session) dataDiskFile(ctx context.Context, v *VCH) (string, error) {
	devices, err := v.VM.Device(ctx)
	if err != nil {
		return "", fmt.Errorf("devices of endpoint VM: %w", err)
	}
	d, err := dataDiskOf(devices)
	if err != nil || d == nil {
		return "", err
	}
	return diskFile(d), nil
}

// orphanDataDisk is the data disk file to delete after a rollback's
// revert: before, the data disk's file when the rollback began, if the VM
// (devices, after the revert) has no data disk any more — the upgrade
// added it after the snapshot, so its file is a base disk no snapshot
// owns; "" when there is none to delete. A data disk that is still there
// under another file name is the same disk (a revert and the snapshot's
// consolidation rename its delta files): never deleted.
func orphanDataDisk(before string, devices object.VirtualDeviceList) (string, error) {
	if before == "" {
		return "", nil
	}
	d, err := dataDiskOf(devices)
	if err != nil || d != nil {
		return "", err
	}
	return before, nil
}

// removeOrphanDataDisk deletes the data disk file before (see
// dataDiskFile) if the endpoint VM no longer has it (orphanDataDisk).
func (s *Session) removeOrphanDataDisk(ctx context.Context, v *VCH, before string) error {
	devices, err := v.VM.Device(ctx)
	if err != nil {
		return fmt.Errorf("devices of endpoint VM: %w", err)
	}
	file, err := orphanDataDisk(before, devices)
	if err != nil || file == "" {
		return err
	}
	if err := waitTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewVirtualDiskManager(s.Client).DeleteVirtualDisk(ctx, file, s.Datacenter)
	}); err != nil && !fault.Is(err, &types.FileNotFound{}) {
		return fmt.Errorf("delete %s: %w", file, err)
	}
	s.log.Info("data disk the rolled back upgrade added removed", zap.String("file", file))
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
	// The snapshot holds the old CD-ROM; put the old appliance back in
	// it all the same (the simulator's revert keeps the devices as they
	// are).
	if cfg.ISO.Appliance != "" {
		if err := s.applianceCD(ctx, v, cfg.ISO.Appliance); err != nil {
			return err
		}
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
