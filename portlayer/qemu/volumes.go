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

// MaxVolumes bounds the distinct volumes and bind sources of one VM.
// microvm has 24 virtio-mmio slots; the image, writable layer and config
// disks and the virtio-serial device use 4, and each volume disk or
// virtiofs device uses one more.
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
		switch {
		case m.Volume == "" && m.Source == "":
			return errdefs.InvalidParameter("mount without a volume name or a source")
		case m.Volume != "" && m.Source != "":
			return errdefs.InvalidParameter("a mount has a volume or a source, not both")
		case m.Source != "" && !path.IsAbs(m.Source):
			return errdefs.InvalidParameter(fmt.Sprintf("invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", m.Source))
		}
		if err := check(m.Path); err != nil {
			return err
		}
		vols[m.Volume+"\x00"+m.Source] = true
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

// fsShare is one host directory a VM mounts over virtiofs: a shared
// volume's file system or a bind mount's source. A virtiofsd per VM and
// directory serves it on Socket (relative to the container directory).
type fsShare struct {
	Dir    string
	Tag    string
	Socket string
	// ReadOnly: every mount of it in the VM is read-only, so the host
	// serves it read-only (a guest's root could remount its own view).
	ReadOnly bool
	// served is the directory virtiofsd serves: Dir, or a read-only
	// bind of it (set by the first startShares).
	served string
}

// stepVolumes attaches each distinct volume or host directory once: a
// shared volume or a bind mount as a virtiofs share (started here, one
// virtiofsd each), an unshared volume as a disk, refused if another
// running VM holds it (an ext4 file system must not be mounted by two
// kernels at once).
func stepVolumes(ctx context.Context, b *Boot) error {
	mounts := b.v.spec.Mounts
	if len(mounts) == 0 && len(b.v.spec.Tmpfs) == 0 {
		return nil
	}
	type attached struct {
		serial, tag string
		share       int // index in b.shares, -1 for a disk
	}
	seen := map[string]attached{}
	var exclusive []string
	for _, m := range mounts {
		key := "volume:" + m.Volume
		if m.Source != "" {
			key = "bind:" + m.Source
		}
		a, ok := seen[key]
		if !ok {
			a.share = -1
			switch {
			case m.Source != "":
				a.share = len(b.shares)
				a.tag = b.addShare(m.Source)
			default:
				if b.p.cfg.Volumes == nil {
					return errdefs.NotImplemented("this VCH has no volume stores")
				}
				att, err := b.p.cfg.Volumes.Attach(ctx, m.Volume)
				if err != nil {
					return fmt.Errorf("container %s: volume %s: %w", b.v.id, m.Volume, err)
				}
				if att.Dir != "" {
					a.share = len(b.shares)
					a.tag = b.addShare(att.Dir)
				} else {
					a.serial = proto.VolumeSerial(len(b.volumeDisks))
					b.volumeDisks = append(b.volumeDisks, volumeDisk{Path: att.Disk, Serial: a.serial})
					exclusive = append(exclusive, m.Volume)
				}
			}
			seen[key] = a
			if a.share >= 0 {
				b.shares[a.share].ReadOnly = true
			}
		}
		if a.share >= 0 && !m.ReadOnly {
			b.shares[a.share].ReadOnly = false
		}
		b.volumes = append(b.volumes, proto.VolumeMount{
			Serial: a.serial, Tag: a.tag, Path: path.Clean(m.Path), ReadOnly: m.ReadOnly,
			CopyImage: m.CopyImage && m.Source == "", HostDir: m.Source != "",
		})
	}
	if err := b.p.volumeHolders(b.v, exclusive); err != nil {
		return err
	}
	if err := b.startShares(ctx); err != nil {
		return err
	}
	for _, t := range b.v.spec.Tmpfs {
		b.tmpfs = append(b.tmpfs, proto.TmpfsMount{Path: path.Clean(t.Path), Options: t.Options})
	}
	return nil
}

// addShare adds a virtiofs share of dir and returns its tag.
func (b *Boot) addShare(dir string) string {
	i := len(b.shares)
	prefix := ""
	if b.maintenance {
		prefix = "maint-"
	}
	// virtiofsd names its pid file (in /run/virtiofsd) after the
	// socket path, which is relative to the container directory: the
	// container id keeps the names of different VMs apart.
	s := fsShare{Dir: dir, Tag: proto.FSTag(i), Socket: fmt.Sprintf("%svfs-%s-%d.sock", prefix, shortID(b.v.id), i)}
	b.shares = append(b.shares, s)
	return s.Tag
}

// volumeHolders fails with ErrVolumeInUse if a running or starting VM
// other than v mounts one of the unshared volumes names.
func (p *Provider) volumeHolders(v *vm, names []string) error {
	if len(names) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	p.settleMaintHolding(v, want)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.vms {
		if o == v || o.removed || (o.run == nil && !o.starting && o.maint == nil) {
			continue
		}
		for _, m := range o.spec.Mounts {
			if m.Volume != "" && want[m.Volume] {
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

// virtiofs arguments: one vhost-user-fs device per share. virtiofsd
// (libvhost-user) serves modern virtio only, and microvm's virtio-mmio
// defaults to legacy, so a VM with shares runs all its virtio-mmio
// devices as modern ones; its RAM must be shared with the daemons
// (memory.go).
func shareArgs(shares []fsShare) []string {
	if len(shares) == 0 {
		return nil
	}
	args := []string{"-global", "virtio-mmio.force-legacy=false"}
	for i, s := range shares {
		args = append(args,
			"-chardev", fmt.Sprintf("socket,id=fs%d,path=%s", i, qemuEscape(s.Socket)),
			"-device", fmt.Sprintf("vhost-user-fs-device,chardev=fs%d,tag=%s", i, s.Tag),
		)
	}
	return args
}
