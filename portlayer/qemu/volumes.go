package qemu

import (
	"context"
	"fmt"
	"path"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// StepVolumes resolves the volumes a container mounts to disks.
const StepVolumes = "volumes"

// MaxVolumes bounds the distinct volumes of one VM. microvm has 24
// virtio-mmio slots; the image, writable layer and config disks and the
// virtio-serial device use 4, and each volume disk uses one more.
const MaxVolumes = 16

// validateMounts checks a spec's mounts and tmpfs at create.
func validateMounts(s compute.Spec) error {
	seen := map[string]bool{}
	vols := map[string]bool{}
	check := func(p string) error {
		if !path.IsAbs(p) {
			return errdefs.InvalidParameter(fmt.Sprintf("invalid mount config: mount path must be absolute: %q", p))
		}
		c := path.Clean(p)
		if c == "/" {
			return errdefs.InvalidParameter("invalid specification: destination can't be '/'")
		}
		if seen[c] {
			return errdefs.InvalidParameter("Duplicate mount point: " + c)
		}
		seen[c] = true
		return nil
	}
	for _, m := range s.Mounts {
		if m.Volume == "" {
			return errdefs.InvalidParameter("mount without a volume name")
		}
		if err := check(m.Path); err != nil {
			return err
		}
		vols[m.Volume] = true
	}
	for _, t := range s.Tmpfs {
		if err := check(t.Path); err != nil {
			return err
		}
	}
	if len(vols) > MaxVolumes {
		return errdefs.InvalidParameter(fmt.Sprintf("a container can mount at most %d volumes here, not %d", MaxVolumes, len(vols)))
	}
	return nil
}

// volumeDisk is one volume disk on QEMU's command line.
type volumeDisk struct {
	Path   string
	Serial string
}

// stepVolumes attaches each distinct volume once and refuses a volume that
// another running VM holds: an ext4 file system must not be mounted by two
// kernels at once.
func stepVolumes(ctx context.Context, b *Boot) error {
	mounts := b.v.spec.Mounts
	if len(mounts) == 0 && len(b.v.spec.Tmpfs) == 0 {
		return nil
	}
	if len(mounts) > 0 && b.p.cfg.Volumes == nil {
		return errdefs.NotImplemented("this VCH has no volume stores")
	}
	if err := b.p.volumeHolders(b.v); err != nil {
		return err
	}
	serials := map[string]string{}
	for _, m := range mounts {
		serial, ok := serials[m.Volume]
		if !ok {
			disk, err := b.p.cfg.Volumes.Disk(ctx, m.Volume)
			if err != nil {
				return fmt.Errorf("container %s: volume %s: %w", b.v.id, m.Volume, err)
			}
			serial = proto.VolumeSerial(len(b.volumeDisks))
			serials[m.Volume] = serial
			b.volumeDisks = append(b.volumeDisks, volumeDisk{Path: disk, Serial: serial})
		}
		b.volumes = append(b.volumes, proto.VolumeMount{Serial: serial, Path: path.Clean(m.Path), ReadOnly: m.ReadOnly, CopyImage: m.CopyImage})
	}
	for _, t := range b.v.spec.Tmpfs {
		b.tmpfs = append(b.tmpfs, proto.TmpfsMount{Path: path.Clean(t.Path), Options: t.Options})
	}
	return nil
}

// volumeHolders fails with ErrConflict if a running or starting VM other
// than v mounts one of v's volumes.
func (p *Provider) volumeHolders(v *vm) error {
	want := map[string]bool{}
	for _, m := range v.spec.Mounts {
		want[m.Volume] = true
	}
	p.settleMaintHolding(v, want)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.vms {
		if o == v || o.removed || (o.run == nil && !o.starting && o.maint == nil) {
			continue
		}
		for _, m := range o.spec.Mounts {
			if want[m.Volume] {
				return fmt.Errorf("volume %s is in use by running container %s; stop it first: %w", m.Volume, shortID(o.id), compute.ErrVolumeInUse)
			}
		}
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func volumeArgs(disks []volumeDisk) []string {
	var args []string
	for i, d := range disks {
		args = append(args, drive(fmt.Sprintf("vol%d", i), d.Path, false, d.Serial)...)
	}
	return args
}
