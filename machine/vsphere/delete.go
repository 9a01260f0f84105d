package vsphere

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/vice"
)

// ErrHasContainers: delete without --force of a VCH with container VMs.
var ErrHasContainers = errors.New("the VCH has container VMs")

// Delete removes a VCH: its container VMs (only with force), the endpoint
// VM, the image store, the permissions it granted and its pool. Volume
// stores are kept unless force. It goes on past a failed step and reports
// every failure; it returns the stores it kept.
func (s *Session) Delete(ctx context.Context, v *VCH, force bool) ([]vice.VolumeStore, error) {
	c := v.Config
	log := s.log.With(zap.String("vch", c.Name), zap.String("id", v.ID))
	children, err := s.poolChildVMs(ctx, v.Pool, v.VM.Reference())
	if err != nil {
		return nil, err
	}
	if len(children) > 0 && !force {
		var names []string
		for _, vm := range children {
			names = append(names, vm.Name)
		}
		return nil, fmt.Errorf("VCH %s: %w (%s): remove them with docker rm, or delete with --force", c.Name, ErrHasContainers, strings.Join(names, ", "))
	}
	var errs []error
	for _, vm := range children {
		if err := destroyVM(ctx, object.NewVirtualMachine(s.Client, vm.Self)); err != nil {
			errs = append(errs, fmt.Errorf("container VM %s: %w", vm.Name, err))
			continue
		}
		log.Info("container VM removed", zap.String("vm", vm.Name))
	}
	if err := destroyVM(ctx, v.VM); err != nil {
		errs = append(errs, fmt.Errorf("endpoint VM %s: %w", v.ID, err))
	} else {
		log.Info("endpoint VM removed")
	}
	// The image store is IMAGEPATH/VIC/<uuid>/images: remove VIC/<uuid>.
	img := c.Storage.Image
	if ds, err := s.Datastore(ctx, img.Datastore); err != nil {
		errs = append(errs, fmt.Errorf("image store: %w", err))
	} else if dir := path.Dir(img.Path); strings.Contains(dir, "VIC/") {
		if err := s.removeFolder(ctx, ds, dir); err != nil {
			errs = append(errs, fmt.Errorf("image store: %w", err))
		}
	}
	var kept []vice.VolumeStore
	for _, vs := range c.Storage.Volumes {
		if !force {
			kept = append(kept, vs)
			continue
		}
		ds, err := s.Datastore(ctx, vs.Datastore)
		if err == nil {
			err = s.removeFolder(ctx, ds, path.Join(vs.Path, "volumes"))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("volume store %s: %w", vs.Label, err))
		}
	}
	if err := s.removeMade(ctx, v, kept); err != nil {
		errs = append(errs, err)
	}
	if c.Ops.GrantPerms {
		if err := s.revokeOps(ctx, v); err != nil {
			errs = append(errs, err)
		}
	}
	if err := waitTask(ctx, object.NewResourcePool(s.Client, v.Pool).Destroy); err != nil {
		errs = append(errs, fmt.Errorf("resource pool %s: %w", c.Pool, err))
	} else {
		log.Info("resource pool removed")
	}
	if len(errs) > 0 {
		return kept, fmt.Errorf("VCH %s partly deleted: %w", c.Name, errors.Join(errs...))
	}
	return kept, nil
}

// removeMade removes the folders create made, but those holding a kept
// volume store or another VCH's store.
func (s *Session) removeMade(ctx context.Context, v *VCH, kept []vice.VolumeStore) error {
	others, err := s.List(ctx)
	if err != nil {
		return err
	}
	var inUse []string // "[ds] path" of stores that stay
	for _, vs := range kept {
		inUse = append(inUse, vs.Location().DSPath())
	}
	for _, o := range others {
		if o.ID == v.ID || o.Config == nil {
			continue
		}
		inUse = append(inUse, o.Config.Storage.Image.DSPath())
		for _, vs := range o.Config.Storage.Volumes {
			inUse = append(inUse, vs.Location().DSPath())
		}
	}
	var errs []error
	for _, m := range v.Config.Storage.Made {
		busy := false
		for _, u := range inUse {
			if u == m || strings.HasPrefix(u, m+"/") {
				busy = true
			}
		}
		if busy {
			continue
		}
		dsName, dir, err := ParseDatastorePath(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ds, err := s.Datastore(ctx, dsName)
		if err == nil {
			err = s.removeFolder(ctx, ds, dir)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("folder %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// removeFolder deletes a datastore folder; a missing one is fine.
func (s *Session) removeFolder(ctx context.Context, ds *object.Datastore, dir string) error {
	if _, err := ds.Stat(ctx, dir); err != nil {
		return nil
	}
	if err := ds.NewFileManager(s.Datacenter, true).Delete(ctx, dir); err != nil {
		return fmt.Errorf("remove %s: %w", ds.Path(dir), err)
	}
	return nil
}

// revokeOps removes the ops user's permissions vic-machine gave for this
// VCH (its pool and Ops.Granted), but those another VCH of the same user
// was also granted.
func (s *Session) revokeOps(ctx context.Context, v *VCH) error {
	c := v.Config
	others, err := s.List(ctx)
	if err != nil {
		return err
	}
	shared := map[string]bool{}
	for _, o := range others {
		if o.ID == v.ID || o.Config == nil || !o.Config.Ops.GrantPerms || o.Config.Ops.User != c.Ops.User {
			continue
		}
		for _, g := range o.Config.Ops.Granted {
			shared[g] = true
		}
	}
	am := object.NewAuthorizationManager(s.Client)
	refs := []types.ManagedObjectReference{v.Pool}
	for _, g := range c.Ops.Granted {
		if !shared[g] {
			refs = append(refs, parseRef(g))
		}
	}
	var errs []error
	for _, r := range refs {
		if err := am.RemoveEntityPermission(ctx, r, c.Ops.User, false); err != nil && !isNotFoundFault(err) {
			errs = append(errs, fmt.Errorf("permission of %s on %s: %w", c.Ops.User, r.Value, err))
		}
	}
	return errors.Join(errs...)
}

func isNotFoundFault(err error) bool {
	return fault.Is(err, &types.NotFound{})
}
