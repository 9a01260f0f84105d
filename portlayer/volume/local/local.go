// Package local keeps volumes on the host: each volume is a sparse ext4
// image file of its capacity, made by the host (mkfs.ext4), in
// STORE/volumes/NAME/ beside a volume.json record. A volume is Shared: the
// first Attach mounts the image on the host at STORE/volumes/NAME/fs (a
// loop mount) and every VM reaches the files there through virtiofs, so
// only the host kernel ever writes the image's blocks and the capacity is
// the file system's size (ENOSPC past it). The mount stays until the
// volume is removed or vic-machine delete calls Unmount. Volumes made
// before sharing (no "shared" in their record) keep their old form: the
// qemu provider attaches their image to one VM at a time as a virtio-blk
// disk, and the host never mounts it (a guest wrote its blocks).
//
// Create is atomic (the volume is built in a temporary directory and
// renamed into place); New rebuilds the index from the stores, so volumes
// survive vchd restarts.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/storage/ext4"
	"github.com/vchproject/vch/portlayer/volume"
)

// VolumesDir is where a store at path keeps its volumes (what vic-machine
// delete --force removes).
func VolumesDir(path string) string { return filepath.Join(path, subdir) }

const (
	subdir     = "volumes"
	recordFile = "volume.json"
	diskFile   = "disk.ext4"
	tmpPrefix  = ".tmp-"
	trashPref  = ".trash-"
)

// Provider is the local volume provider.
type Provider struct {
	log    *zap.Logger
	stores []volume.Store
	byName map[string]volume.Store // label -> store

	mu   sync.Mutex
	vols map[string]volume.Volume
	busy map[string]bool // names being created or removed

	mountMu sync.Mutex // serializes host mounts and unmounts
}

var _ volume.Provider = (*Provider)(nil)

// New opens (creating their directories) the given stores and indexes the
// volumes in them. Labels must be unique.
func New(stores []volume.Store, log *zap.Logger) (*Provider, error) {
	if log == nil {
		log = zap.NewNop()
	}
	p := &Provider{log: log, byName: map[string]volume.Store{}, vols: map[string]volume.Volume{}, busy: map[string]bool{}}
	for _, s := range stores {
		if err := volume.ValidateStoreLabel(s.Label); err != nil {
			return nil, err
		}
		if !filepath.IsAbs(s.Path) {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("volume store %s: path %q is not absolute", s.Label, s.Path))
		}
		if _, dup := p.byName[s.Label]; dup {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("volume store label %q given twice", s.Label))
		}
		if err := os.MkdirAll(filepath.Join(s.Path, subdir), 0o700); err != nil {
			return nil, fmt.Errorf("volume store %s: %w", s.Label, err)
		}
		p.byName[s.Label] = s
		p.stores = append(p.stores, s)
		if err := p.scan(s); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// scan indexes the volumes of s and sweeps leftovers of interrupted
// creates and removes.
func (p *Provider) scan(s volume.Store) error {
	dir := filepath.Join(s.Path, subdir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("volume store %s: %w", s.Label, err)
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), tmpPrefix) || strings.HasPrefix(e.Name(), trashPref) {
			if err := os.RemoveAll(path); err != nil {
				p.log.Warn("sweeping volume leftovers", zap.String("path", path), zap.Error(err))
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(path, recordFile))
		if err != nil {
			p.log.Warn("skipping volume without record", zap.String("path", path), zap.Error(err))
			continue
		}
		var v volume.Volume
		if err := json.Unmarshal(b, &v); err != nil || v.Name != e.Name() {
			p.log.Warn("skipping volume with bad record", zap.String("path", path), zap.Error(err))
			continue
		}
		v.Store, v.Location = s.Label, path
		if other, dup := p.vols[v.Name]; dup {
			p.log.Warn("volume name in two stores; keeping the first", zap.String("name", v.Name), zap.String("kept", other.Store), zap.String("skipped", s.Label))
			continue
		}
		p.vols[v.Name] = v
	}
	return nil
}

// Stores lists the stores in the order given to New.
func (p *Provider) Stores() []volume.Store { return append([]volume.Store(nil), p.stores...) }

// Create makes the volume's disk in its store.
func (p *Provider) Create(ctx context.Context, opts volume.CreateOptions) (volume.Volume, error) {
	opts, err := volume.Normalize(opts)
	if err != nil {
		return volume.Volume{}, err
	}
	s, ok := p.byName[opts.Store]
	if !ok {
		return volume.Volume{}, volume.UnknownStore(opts.Store)
	}
	p.mu.Lock()
	_, exists := p.vols[opts.Name]
	if exists || p.busy[opts.Name] {
		p.mu.Unlock()
		return volume.Volume{}, fmt.Errorf("volume %s: %w", opts.Name, errdefs.ErrAlreadyExists)
	}
	p.busy[opts.Name] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.busy, opts.Name)
		p.mu.Unlock()
	}()

	dir := filepath.Join(s.Path, subdir)
	tmp, err := os.MkdirTemp(dir, tmpPrefix+opts.Name+"-")
	if err != nil {
		return volume.Volume{}, fmt.Errorf("create volume %s: %w", opts.Name, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := ext4.Make(ctx, filepath.Join(tmp, diskFile), opts.Capacity, "", ""); err != nil {
		return volume.Volume{}, fmt.Errorf("create volume %s: %w", opts.Name, err)
	}
	final := filepath.Join(dir, opts.Name)
	v := volume.Volume{
		Name: opts.Name, Store: s.Label, Capacity: opts.Capacity,
		Labels: opts.Labels, Options: opts.Options,
		Created: time.Now().UTC().Truncate(time.Second), Location: final,
		Shared: true,
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return volume.Volume{}, err
	}
	if err := os.WriteFile(filepath.Join(tmp, recordFile), b, 0o600); err != nil {
		return volume.Volume{}, fmt.Errorf("create volume %s: %w", opts.Name, err)
	}
	// Durable content before the name: a crash leaves a whole volume or
	// a .tmp-* that the next open sweeps.
	for _, f := range []string{diskFile, recordFile} {
		if err := atomicfile.SyncFile(filepath.Join(tmp, f)); err != nil {
			return volume.Volume{}, fmt.Errorf("create volume %s: %w", opts.Name, err)
		}
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return volume.Volume{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return volume.Volume{}, fmt.Errorf("volume %s: %w", opts.Name, errdefs.ErrAlreadyExists)
		}
		return volume.Volume{}, fmt.Errorf("create volume %s: %w", opts.Name, err)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return volume.Volume{}, fmt.Errorf("create volume %s: %w", opts.Name, err)
	}
	p.mu.Lock()
	p.vols[v.Name] = v
	p.mu.Unlock()
	p.log.Info("volume created", zap.String("name", v.Name), zap.String("store", v.Store), zap.Int64("capacity", v.Capacity))
	return v, nil
}

// Get returns one volume.
func (p *Provider) Get(ctx context.Context, name string) (volume.Volume, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.vols[name]
	if !ok {
		return volume.Volume{}, volume.NotFound(name)
	}
	return v, nil
}

// List returns every volume, sorted by name.
func (p *Provider) List(ctx context.Context) ([]volume.Volume, error) {
	p.mu.Lock()
	out := make([]volume.Volume, 0, len(p.vols))
	for _, v := range p.vols {
		out = append(out, v)
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Attach returns the host directory of a shared volume (mounting its
// file system on the host if it is not yet) or the ext4 image of an old
// unshared one.
func (p *Provider) Attach(ctx context.Context, name string) (volume.Attachment, error) {
	v, err := p.Get(ctx, name)
	if err != nil {
		return volume.Attachment{}, err
	}
	disk := filepath.Join(v.Location, diskFile)
	if !v.Shared {
		return volume.Attachment{Disk: disk}, nil
	}
	p.mu.Lock()
	busy := p.busy[name]
	p.mu.Unlock()
	if busy {
		return volume.Attachment{}, errdefs.Conflict(fmt.Sprintf("volume %s is being created or removed", name))
	}
	dir := filepath.Join(v.Location, mountDir)
	p.mountMu.Lock()
	defer p.mountMu.Unlock()
	if err := hostMount(ctx, disk, dir); err != nil {
		return volume.Attachment{}, fmt.Errorf("volume %s: %w", name, err)
	}
	return volume.Attachment{Dir: dir}, nil
}

// Remove deletes the volume and its data.
func (p *Provider) Remove(ctx context.Context, name string) error {
	p.mu.Lock()
	v, ok := p.vols[name]
	if !ok {
		p.mu.Unlock()
		return volume.NotFound(name)
	}
	if p.busy[name] {
		p.mu.Unlock()
		return errdefs.Conflict(fmt.Sprintf("volume %s is being created or removed", name))
	}
	p.busy[name] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.busy, name)
		p.mu.Unlock()
	}()
	if v.Shared {
		p.mountMu.Lock()
		err := hostUnmount(filepath.Join(v.Location, mountDir))
		p.mountMu.Unlock()
		if err != nil {
			return fmt.Errorf("remove volume %s: %w", name, err)
		}
	}
	// Rename first so a crash never leaves half a volume under its name.
	trash := filepath.Join(filepath.Dir(v.Location), trashPref+name)
	if err := os.Rename(v.Location, trash); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	p.mu.Lock()
	delete(p.vols, name)
	p.mu.Unlock()
	if err := os.RemoveAll(trash); err != nil {
		p.log.Warn("removing volume data", zap.String("name", name), zap.Error(err))
	}
	p.log.Info("volume removed", zap.String("name", name))
	return nil
}
