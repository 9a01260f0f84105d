// Package vsvolume is the vSphere volume provider: each volume is a thin
// VMDK in its own folder on a volume-store datastore,
//
//	[datastore] STORE/volumes/NAME/NAME.vmdk
//	[datastore] STORE/volumes/NAME/volume.json   (the record)
//
// made with the VirtualDiskManager and the datastore file API. The record
// is written last and removed first, so a folder without one is an
// interrupted create or remove; opening the provider deletes such folders.
// Nothing is kept only in memory: the index is rebuilt from the datastores
// on open.
package vsvolume

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
)

const recordName = "volume.json"

// Provider implements volume.Provider on datastores.
type Provider struct {
	s      *vsession.Session
	log    *zap.Logger
	stores []volume.Store
	ds     map[string]*store // by label

	mu    sync.Mutex // serializes changes; guards index
	index map[string]volume.Volume
}

type store struct {
	ds     *object.Datastore
	folder string // path on ds of the store's volumes/ folder, no leading slash
}

func (st *store) path(p ...string) string {
	return st.ds.Path(path.Join(append([]string{st.folder}, p...)...))
}

// New opens the stores; each Store.Path is a datastore path,
// "[datastore] folder" (the folder is made if missing).
func New(ctx context.Context, s *vsession.Session, stores []volume.Store, log *zap.Logger) (*Provider, error) {
	if log == nil {
		log = zap.NewNop()
	}
	p := &Provider{s: s, log: log, stores: append([]volume.Store(nil), stores...), ds: map[string]*store{}, index: map[string]volume.Volume{}}
	for _, st := range stores {
		if err := volume.ValidateStoreLabel(st.Label); err != nil {
			return nil, err
		}
		var dp object.DatastorePath
		if !dp.FromString(st.Path) {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("volume store %s: %q is no datastore path: use \"[datastore] folder\"", st.Label, st.Path))
		}
		ds, err := s.Finder.Datastore(ctx, dp.Datastore)
		if err != nil {
			return nil, fmt.Errorf("volume store %s: datastore %q: %w", st.Label, dp.Datastore, vsession.Classify(err))
		}
		one := &store{ds: ds, folder: path.Join(strings.Trim(dp.Path, "/"), "volumes")}
		if err := p.mkdir(ctx, one.path(), true); err != nil && !errdefs.IsAlreadyExists(err) {
			return nil, fmt.Errorf("volume store %s: %w", st.Label, err)
		}
		p.ds[st.Label] = one
		if err := p.load(ctx, st.Label, one); err != nil {
			return nil, fmt.Errorf("volume store %s: %w", st.Label, err)
		}
	}
	return p, nil
}

func (p *Provider) fileManager() *object.FileManager { return object.NewFileManager(p.s.Client) }

func (p *Provider) mkdir(ctx context.Context, name string, parents bool) error {
	if err := p.fileManager().MakeDirectory(ctx, name, p.s.Datacenter, parents); err != nil {
		return fmt.Errorf("make %s: %w", name, vsession.Classify(err))
	}
	return nil
}

// load indexes a store's volumes and deletes folders without a record.
func (p *Provider) load(ctx context.Context, label string, st *store) error {
	b, err := st.ds.Browser(ctx)
	if err != nil {
		return vsession.Classify(err)
	}
	task, err := b.SearchDatastore(ctx, st.path(), &types.HostDatastoreBrowserSearchSpec{
		Query:        []types.BaseFileQuery{&types.FolderFileQuery{}},
		MatchPattern: []string{"*"},
	})
	if err != nil {
		return vsession.Classify(err)
	}
	info, err := task.WaitForResult(ctx)
	if err != nil {
		return fmt.Errorf("list %s: %w", st.path(), vsession.Classify(err))
	}
	res, _ := info.Result.(types.HostDatastoreBrowserSearchResults)
	for _, f := range res.File {
		name := f.GetFileInfo().Path
		rec, err := p.readRecord(ctx, st, name)
		if err != nil {
			if !errdefs.IsNotFound(err) {
				return err
			}
			p.log.Info("removing an interrupted volume folder", zap.String("folder", st.path(name)))
			if err := p.deleteFolder(ctx, st, name); err != nil {
				return err
			}
			continue
		}
		rec.Store = label
		rec.Location = st.path(name)
		p.index[rec.Name] = rec
	}
	return nil
}

func (p *Provider) readRecord(ctx context.Context, st *store, name string) (volume.Volume, error) {
	var v volume.Volume
	rp := path.Join(st.folder, name, recordName)
	if _, err := st.ds.Stat(ctx, rp); err != nil {
		if _, ok := err.(object.DatastoreNoSuchFileError); ok {
			return v, errdefs.NotFound(fmt.Sprintf("%s: no record", st.ds.Path(rp)))
		}
		if _, ok := err.(object.DatastoreNoSuchDirectoryError); ok {
			return v, errdefs.NotFound(fmt.Sprintf("%s: no record", st.ds.Path(rp)))
		}
		return v, fmt.Errorf("stat %s: %w", st.ds.Path(rp), vsession.Classify(err))
	}
	r, _, err := st.ds.Download(ctx, rp, &soap.DefaultDownload)
	if err != nil {
		return v, fmt.Errorf("read %s: %w", st.ds.Path(rp), vsession.Classify(err))
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return v, fmt.Errorf("read %s: %w", st.ds.Path(rp), err)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("read %s: %w", st.ds.Path(rp), err)
	}
	if v.Name != name {
		return v, fmt.Errorf("read %s: record names volume %q", st.ds.Path(rp), v.Name)
	}
	return v, nil
}

func (p *Provider) deleteFolder(ctx context.Context, st *store, name string) error {
	task, err := p.fileManager().DeleteDatastoreFile(ctx, st.path(name), p.s.Datacenter)
	if err != nil {
		return fmt.Errorf("delete %s: %w", st.path(name), vsession.Classify(err))
	}
	if err := p.s.Wait(ctx, "delete "+st.path(name), task); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	return nil
}

func diskName(name string) string { return name + ".vmdk" }

// Create makes the folder, the disk, then the record.
func (p *Provider) Create(ctx context.Context, opts volume.CreateOptions) (volume.Volume, error) {
	opts, err := volume.Normalize(opts)
	if err != nil {
		return volume.Volume{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.ds[opts.Store]
	if !ok {
		return volume.Volume{}, volume.UnknownStore(opts.Store)
	}
	if _, taken := p.index[opts.Name]; taken {
		return volume.Volume{}, errdefs.New(errdefs.ErrAlreadyExists, fmt.Sprintf("volume %s already exists", opts.Name))
	}
	v := volume.Volume{
		Name: opts.Name, Store: opts.Store, Capacity: opts.Capacity,
		Labels: opts.Labels, Options: opts.Options,
		Created: time.Now().UTC().Truncate(time.Second), Location: st.path(opts.Name),
	}
	if err := p.mkdir(ctx, st.path(opts.Name), false); err != nil {
		return volume.Volume{}, fmt.Errorf("volume %s: %w", opts.Name, err)
	}
	ok = false
	defer func() {
		if !ok {
			if err := p.deleteFolder(context.WithoutCancel(ctx), st, opts.Name); err != nil {
				p.log.Warn("cleaning up a failed volume create", zap.String("volume", opts.Name), zap.Error(err))
			}
		}
	}()
	spec := &types.FileBackedVirtualDiskSpec{
		VirtualDiskSpec: types.VirtualDiskSpec{
			AdapterType: string(types.VirtualDiskAdapterTypeLsiLogic),
			DiskType:    string(types.VirtualDiskTypeThin),
		},
		CapacityKb: (opts.Capacity + 1023) / 1024,
	}
	task, err := object.NewVirtualDiskManager(p.s.Client).CreateVirtualDisk(ctx, st.path(opts.Name, diskName(opts.Name)), p.s.Datacenter, spec)
	if err != nil {
		return volume.Volume{}, fmt.Errorf("volume %s: create disk: %w", opts.Name, vsession.Classify(err))
	}
	if err := p.s.Wait(ctx, "volume "+opts.Name+": create disk", task); err != nil {
		return volume.Volume{}, err
	}
	rec := v
	rec.Location = ""
	body, err := json.Marshal(rec)
	if err != nil {
		return volume.Volume{}, err
	}
	up := soap.DefaultUpload
	up.ContentLength = int64(len(body))
	if err := st.ds.Upload(ctx, bytes.NewReader(body), path.Join(st.folder, opts.Name, recordName), &up); err != nil {
		return volume.Volume{}, fmt.Errorf("volume %s: write record: %w", opts.Name, vsession.Classify(err))
	}
	ok = true
	p.index[v.Name] = v
	return v, nil
}

// Get returns one volume.
func (p *Provider) Get(ctx context.Context, name string) (volume.Volume, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.index[name]
	if !ok {
		return volume.Volume{}, volume.NotFound(name)
	}
	return v, nil
}

// List returns every volume, by name.
func (p *Provider) List(ctx context.Context) ([]volume.Volume, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]volume.Volume, 0, len(p.index))
	for _, v := range p.index {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Stores returns the stores in configuration order.
func (p *Provider) Stores() []volume.Store { return append([]volume.Store(nil), p.stores...) }

// Attach gives the volume's VMDK as the Disk of the attachment: a
// datastore path, never a host path. vSphere volumes are never Shared
// (one VM at a time attaches the disk).
func (p *Provider) Attach(ctx context.Context, name string) (volume.Attachment, error) {
	d, err := p.Disk(ctx, name)
	if err != nil {
		return volume.Attachment{}, err
	}
	return volume.Attachment{Disk: d}, nil
}

// Disk is the datastore path of the volume's VMDK ("[ds] .../NAME.vmdk"),
// what a container VM's spec attaches; never a host path.
func (p *Provider) Disk(ctx context.Context, name string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.index[name]
	if !ok {
		return "", volume.NotFound(name)
	}
	return p.ds[v.Store].path(name, diskName(name)), nil
}

// Remove deletes the record, then the disk and the folder.
func (p *Provider) Remove(ctx context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.index[name]
	if !ok {
		return volume.NotFound(name)
	}
	st := p.ds[v.Store]
	fm := st.ds.NewFileManager(p.s.Datacenter, true)
	if err := fm.DeleteFile(ctx, path.Join(st.folder, name, recordName)); err != nil {
		return fmt.Errorf("remove %s: record: %w", name, vsession.Classify(err))
	}
	delete(p.index, name)
	// The volume is gone for every reader now; a failure below leaves a
	// folder without a record, which the next open deletes.
	if err := fm.DeleteVirtualDisk(ctx, path.Join(st.folder, name, diskName(name))); err != nil {
		p.log.Warn("volume disk not deleted; the next open removes it", zap.String("volume", name), zap.Error(err))
		return nil
	}
	if err := p.deleteFolder(ctx, st, name); err != nil {
		p.log.Warn("volume folder not deleted; the next open removes it", zap.String("volume", name), zap.Error(err))
	}
	return nil
}
