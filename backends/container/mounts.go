package container

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// Volumes is what the container backend needs of the volume backend
// (backends/volume implements it).
type Volumes interface {
	// Ensure returns the volume name, creating the volume if it does not
	// exist (an empty name creates an anonymous volume); created reports
	// whether this call made it.
	Ensure(ctx context.Context, name, driver string, opts, labels map[string]string, anonymous bool) (string, bool, error)
	// VolumeRemove deletes a volume no container uses.
	VolumeRemove(ctx context.Context, name string, force bool) error
	// Location is where the volume lives (inspect's Mounts[].Source).
	Location(ctx context.Context, name string) string
}

// MountRecord is one mount of a container as kept in Meta.
type MountRecord struct {
	Type        string `json:"type"` // "volume", "bind" or "tmpfs"
	Name        string `json:"name,omitempty"`
	Source      string `json:"source,omitempty"` // bind: the host directory as given
	Destination string `json:"destination"`
	RW          bool   `json:"rw"`
	Mode        string `json:"mode,omitempty"`
	Anonymous   bool   `json:"anonymous,omitempty"`
	NoCopy      bool   `json:"noCopy,omitempty"`
	Options     string `json:"options,omitempty"` // tmpfs options
	// MakeSource: a -v bind whose missing host directory is made at
	// create, as docker does (--mount refuses a missing one). Only the
	// create that parsed it acts on it.
	MakeSource bool `json:"-"`
}

// wantedVolume is a volume mount before its volume exists.
type wantedVolume struct {
	rec    MountRecord
	driver string
	opts   map[string]string
	labels map[string]string
}

// bindMode reads a -v bind's mode (ro, rw, propagation and SELinux
// labels, which a VM has no use for).
func bindMode(rec *MountRecord, mode string) error {
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "ro":
			rec.RW = false
		case "rw", "z", "Z", "private", "rprivate", "shared", "rshared", "slave", "rslave", "":
		default:
			return errdefs.InvalidParameter(fmt.Sprintf("invalid mode: %s", mode))
		}
	}
	return nil
}

// parseMounts reads -v (Binds), --mount, --tmpfs and the anonymous volumes
// of the merged config (-v /path and the image's VOLUMEs), in docker's
// order: explicit mounts win over anonymous ones at the same path.
func parseMounts(hc *container.HostConfig, cfg *container.Config) ([]wantedVolume, []MountRecord, error) {
	var (
		vols  []wantedVolume
		tmpfs []MountRecord
		dests = map[string]bool{}
	)
	claim := func(dst string) (string, error) {
		if !path.IsAbs(dst) {
			return "", errdefs.InvalidParameter(fmt.Sprintf("invalid mount config for type \"volume\": invalid mount path: '%s' mount path must be absolute", dst))
		}
		d := path.Clean(dst)
		if d == "/" {
			return "", errdefs.InvalidParameter("invalid specification: destination can't be '/'")
		}
		if dests[d] {
			return "", errdefs.InvalidParameter("Duplicate mount point: " + d)
		}
		dests[d] = true
		return d, nil
	}
	for _, bind := range hc.Binds {
		parts := strings.Split(bind, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
			return nil, nil, errdefs.InvalidParameter(fmt.Sprintf("invalid volume specification: '%s'", bind))
		}
		src := parts[0]
		if strings.HasPrefix(src, ".") {
			return nil, nil, errdefs.InvalidParameter(fmt.Sprintf("invalid volume specification: '%s': a bind mount's host path must be absolute", bind))
		}
		d, err := claim(parts[1])
		if err != nil {
			return nil, nil, err
		}
		if strings.HasPrefix(src, "/") {
			r := MountRecord{Type: "bind", Source: src, Destination: d, RW: true, Mode: "", MakeSource: true}
			if len(parts) == 3 {
				r.Mode = parts[2]
				if err := bindMode(&r, parts[2]); err != nil {
					return nil, nil, err
				}
			}
			tmpfs = append(tmpfs, r)
			continue
		}
		w := wantedVolume{rec: MountRecord{Type: "volume", Name: src, Destination: d, RW: true, Mode: "z"}}
		if len(parts) == 3 {
			w.rec.Mode = parts[2]
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					w.rec.RW = false
				case "rw":
				case "nocopy":
					w.rec.NoCopy = true
				case "z", "Z", "private", "rprivate", "shared", "rshared", "slave", "rslave":
				default:
					return nil, nil, errdefs.InvalidParameter(fmt.Sprintf("invalid mode: %s", parts[2]))
				}
			}
		}
		vols = append(vols, w)
	}
	for _, m := range hc.Mounts {
		switch m.Type {
		case mount.TypeVolume:
			d, err := claim(m.Target)
			if err != nil {
				return nil, nil, err
			}
			w := wantedVolume{rec: MountRecord{Type: "volume", Name: m.Source, Destination: d, RW: !m.ReadOnly, Anonymous: m.Source == ""}}
			if vo := m.VolumeOptions; vo != nil {
				w.rec.NoCopy = vo.NoCopy
				w.labels = vo.Labels
				if vo.DriverConfig != nil {
					w.driver, w.opts = vo.DriverConfig.Name, vo.DriverConfig.Options
				}
			}
			vols = append(vols, w)
		case mount.TypeTmpfs:
			d, err := claim(m.Target)
			if err != nil {
				return nil, nil, err
			}
			var opts []string
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			if to := m.TmpfsOptions; to != nil {
				if to.SizeBytes > 0 {
					opts = append(opts, "size="+strconv.FormatInt(to.SizeBytes, 10))
				}
				if to.Mode != 0 {
					opts = append(opts, "mode="+strconv.FormatUint(uint64(to.Mode.Perm()|(to.Mode&0o7000)), 8))
				}
			}
			tmpfs = append(tmpfs, MountRecord{Type: "tmpfs", Destination: d, RW: !m.ReadOnly, Options: strings.Join(opts, ",")})
		case mount.TypeBind:
			if !path.IsAbs(m.Source) {
				return nil, nil, errdefs.InvalidParameter(fmt.Sprintf("invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", m.Source))
			}
			d, err := claim(m.Target)
			if err != nil {
				return nil, nil, err
			}
			tmpfs = append(tmpfs, MountRecord{Type: "bind", Source: m.Source, Destination: d, RW: !m.ReadOnly})
		default:
			return nil, nil, errdefs.InvalidParameter(fmt.Sprintf("mount type %q is not supported by this VCH", m.Type))
		}
	}
	tpaths := make([]string, 0, len(hc.Tmpfs))
	for p := range hc.Tmpfs {
		tpaths = append(tpaths, p)
	}
	sort.Strings(tpaths)
	for _, p := range tpaths {
		d, err := claim(p)
		if err != nil {
			return nil, nil, err
		}
		opts := hc.Tmpfs[p]
		tmpfs = append(tmpfs, MountRecord{Type: "tmpfs", Destination: d, RW: !hasOpt(opts, "ro"), Options: opts})
	}
	anon := make([]string, 0, len(cfg.Volumes))
	for p := range cfg.Volumes {
		anon = append(anon, p)
	}
	sort.Strings(anon)
	for _, p := range anon {
		if !path.IsAbs(p) {
			return nil, nil, errdefs.InvalidParameter(fmt.Sprintf("invalid volume specification: '%s'", p))
		}
		if dests[path.Clean(p)] {
			continue
		}
		d, err := claim(p)
		if err != nil {
			return nil, nil, err
		}
		vols = append(vols, wantedVolume{rec: MountRecord{Type: "volume", Destination: d, RW: true, Anonymous: true}})
	}
	return vols, tmpfs, nil
}

func hasOpt(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// prepareMounts creates the volumes a new container needs and returns its
// mount records and the port layer's mounts. undo removes the volumes this
// call created.
func (b *Backend) prepareMounts(ctx context.Context, hc *container.HostConfig, cfg *container.Config) (recs []MountRecord, mounts []compute.Mount, tmpfs []compute.Tmpfs, undo func(), err error) {
	wanted, tmps, err := parseMounts(hc, cfg)
	if err != nil {
		return nil, nil, nil, func() {}, err
	}
	var created []string
	undo = func() {
		for _, n := range created {
			if rerr := b.cfg.Volumes.VolumeRemove(context.WithoutCancel(ctx), n, true); rerr != nil {
				b.log.Warn("undo volume create", zap.String("volume", n), zap.Error(rerr))
			}
		}
	}
	if len(wanted) > 0 && b.cfg.Volumes == nil {
		return nil, nil, nil, func() {}, errdefs.NotImplemented("volumes are not supported by this VCH: it has no volume stores")
	}
	for _, w := range wanted {
		name, made, err := b.cfg.Volumes.Ensure(ctx, w.rec.Name, w.driver, w.opts, w.labels, w.rec.Anonymous)
		if err != nil {
			undo()
			return nil, nil, nil, func() {}, err
		}
		if made {
			created = append(created, name)
		}
		r := w.rec
		r.Name = name
		recs = append(recs, r)
		mounts = append(mounts, compute.Mount{Volume: name, Path: r.Destination, ReadOnly: !r.RW, CopyImage: !r.NoCopy})
	}
	for _, t := range tmps {
		if t.Type == "bind" {
			src, err := b.bindSource(t.Source, t.MakeSource)
			if err != nil {
				undo()
				return nil, nil, nil, func() {}, err
			}
			recs = append(recs, t)
			mounts = append(mounts, compute.Mount{Source: src, Path: t.Destination, ReadOnly: !t.RW})
			continue
		}
		recs = append(recs, t)
		tmpfs = append(tmpfs, compute.Tmpfs{Path: t.Destination, Options: t.Options})
	}
	return recs, mounts, tmpfs, undo, nil
}

// removeAnonymousVolumes deletes the anonymous volumes of a removed
// container (rm -v, --rm); one still used elsewhere is kept.
func (b *Backend) removeAnonymousVolumes(ctx context.Context, m *Meta) {
	if b.cfg.Volumes == nil {
		return
	}
	for _, r := range m.Mounts {
		if r.Type != "volume" || !r.Anonymous {
			continue
		}
		if err := b.cfg.Volumes.VolumeRemove(ctx, r.Name, true); err != nil {
			b.log.Info("keeping anonymous volume", zap.String("volume", r.Name), zap.Error(err))
		}
	}
}

// inspectMounts is inspect's Mounts.
func (b *Backend) inspectMounts(ctx context.Context, m *Meta) []container.MountPoint {
	out := []container.MountPoint{}
	for _, r := range m.Mounts {
		mp := container.MountPoint{Type: mount.Type(r.Type), Destination: r.Destination, RW: r.RW, Mode: r.Mode}
		if r.Type == "volume" {
			mp.Name, mp.Driver = r.Name, "local"
			if b.cfg.Volumes != nil {
				mp.Source = b.cfg.Volumes.Location(ctx, r.Name)
			}
		}
		if r.Type == "bind" {
			mp.Source, mp.Propagation = r.Source, mount.PropagationRPrivate
		}
		out = append(out, mp)
	}
	return out
}
