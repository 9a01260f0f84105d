package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/storage/ext4"
)

// Create records spec beside a new writable layer. A failed Create leaves
// nothing behind.
func (p *Provider) Create(ctx context.Context, spec compute.Spec) (err error) {
	if !idPattern.MatchString(spec.ID) {
		return fmt.Errorf("container id %q: want 64 lowercase hex digits: %w", spec.ID, errdefs.ErrInvalidParameter)
	}
	if len(spec.Process.Args) == 0 {
		return errdefs.InvalidParameter("No command specified")
	}
	if spec.CPUs < 0 || spec.MemoryMB < 0 || spec.DiskSize < 0 {
		return fmt.Errorf("container %s: negative resources: %w", spec.ID, errdefs.ErrInvalidParameter)
	}
	if err := validateMounts(spec); err != nil {
		return fmt.Errorf("container %s: %w", spec.ID, err)
	}
	imageDisk, err := p.cfg.Images.RootFS(ctx, spec.Image)
	if err != nil {
		return fmt.Errorf("container %s: image %s: %w", spec.ID, spec.Image, err)
	}

	dir := filepath.Join(p.cfg.Root, spec.ID)
	p.mu.Lock()
	if _, taken := p.vms[spec.ID]; taken {
		p.mu.Unlock()
		return fmt.Errorf("container %s: %w", spec.ID, errdefs.ErrAlreadyExists)
	}
	// Reserve the id while the disk is made; removed hides it from readers.
	v := &vm{id: spec.ID, dir: dir, spec: spec, removed: true, notify: make(chan struct{})}
	p.vms[spec.ID] = v
	p.mu.Unlock()

	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			p.mu.Lock()
			delete(p.vms, spec.ID)
			p.mu.Unlock()
		}
	}()

	// The directory is built under a temporary name and renamed into place
	// once complete: a crash at any point leaves either no container or a
	// whole one, and recovery sweeps the temporary.
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("container %s: %w", spec.ID, errdefs.ErrAlreadyExists)
	}
	tmp, err := os.MkdirTemp(p.cfg.Root, tmpPrefix+spec.ID[:12]+"-")
	if err != nil {
		return fmt.Errorf("container %s: %w", spec.ID, err)
	}
	undo = append(undo, func() {
		if err := os.RemoveAll(tmp); err != nil {
			p.log.Warn("undo create", zap.String("id", spec.ID), zap.Error(err))
		}
	})
	crashPoint("create:dir")
	if err := pinImage(imageDisk, tmp); err != nil {
		// Another file system: the container then depends on the store.
		p.log.Warn("image disk not pinned; rmi -f of its image would break this container", zap.String("id", spec.ID), zap.Error(err))
	}
	size := spec.DiskSize
	if size == 0 {
		size = p.cfg.DiskSize
	}
	rw := filepath.Join(tmp, fileRW)
	if err := ext4.Make(ctx, rw, size, "", ""); err != nil {
		return fmt.Errorf("container %s: writable layer: %w", spec.ID, err)
	}
	if err := atomicfile.SyncFile(rw); err != nil {
		return fmt.Errorf("container %s: writable layer: %w", spec.ID, err)
	}
	crashPoint("create:rw")
	if err := saveSpec(tmp, &spec); err != nil {
		return err
	}
	crashPoint("create:spec")
	rec := record{Status: compute.Status{State: compute.StateCreated}}
	if err := saveRecord(tmp, &rec); err != nil {
		return err
	}
	crashPoint("create:status")
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("container %s: %w", spec.ID, err)
	}
	undo = append(undo, func() {
		if err := os.RemoveAll(dir); err != nil {
			p.log.Warn("undo create", zap.String("id", spec.ID), zap.Error(err))
		}
	})
	if err := atomicfile.SyncDir(p.cfg.Root); err != nil {
		return fmt.Errorf("container %s: %w", spec.ID, err)
	}
	crashPoint("create:done")

	p.mu.Lock()
	v.rec = rec
	v.removed = false
	p.mu.Unlock()
	p.log.Info("container created", zap.String("id", spec.ID), zap.String("image", spec.Image))
	return nil
}

// Update replaces the opaque Meta of a definition.
func (p *Provider) Update(ctx context.Context, id string, meta []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.lookup(id)
	if err != nil {
		return err
	}
	spec := v.spec
	spec.Meta = append([]byte(nil), meta...)
	if err := saveSpec(v.dir, &spec); err != nil {
		return err
	}
	v.spec = spec
	return nil
}

// SetResources records the vCPUs and memory the VM gets at its next start.
func (p *Provider) SetResources(ctx context.Context, id string, r compute.Resources) error {
	if r.CPUs < 0 || r.MemoryMB < 0 {
		return errdefs.InvalidParameter("negative CPUs or memory")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.lookup(id)
	if err != nil {
		return err
	}
	spec := v.spec
	if r.CPUs > 0 {
		spec.CPUs = r.CPUs
	}
	if r.MemoryMB > 0 {
		spec.MemoryMB = r.MemoryMB
	}
	if err := saveSpec(v.dir, &spec); err != nil {
		return err
	}
	v.spec = spec
	return nil
}

// Remove deletes the definition, the writable layer and the logs.
func (p *Provider) Remove(ctx context.Context, id string) error {
	p.settleMaintOf(id)
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.lookup(id)
	if err != nil {
		return err
	}
	if v.run != nil || v.starting {
		return errdefs.Conflict(fmt.Sprintf("cannot remove container %s: container is running: stop the container before removing or force remove", id))
	}
	if v.maint != nil {
		return errdefs.Conflict(fmt.Sprintf("cannot remove container %s: files are being copied", id))
	}
	// Renamed away first, durably: a crash while the files are deleted
	// leaves a trash directory that recovery finishes, never a half
	// container under the id.
	trash, err := trashName(p.cfg.Root, id)
	if err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	if err := os.Rename(v.dir, trash); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	if err := atomicfile.SyncDir(p.cfg.Root); err != nil {
		p.log.Warn("remove: sync state directory", zap.String("id", id), zap.Error(err))
	}
	crashPoint("remove:renamed")
	if err := os.RemoveAll(trash); err != nil {
		p.log.Warn("remove: delete files; the next start sweeps them", zap.String("id", id), zap.Error(err))
	}
	v.removed = true
	delete(p.vms, id)
	v.changed()
	p.log.Info("container removed", zap.String("id", id))
	return nil
}
