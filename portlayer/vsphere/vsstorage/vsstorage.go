// Package vsstorage is the vSphere image store: every image layer is a
// VMDK in its own folder on the image datastore, chained to its parent,
// and a container's writable layer is a disk chained to its image's top
// layer:
//
//	[ds] PATH/VIC/<vch-id>/images/<chain>/<chain>.vmdk   the layer's disk
//	[ds] PATH/VIC/<vch-id>/images/<chain>/layer.json     its record (parent, diffID)
//	[ds] PATH/VIC/<vch-id>/writable/<container>/...      a container's writable layer
//
// <chain> is the layer's OCI chain ID (hex), so a layer shared by two
// images is one folder. Pulls, pushes, logins and the blobs stay with a
// staging store on the endpoint VM (the local store; without a Writer it
// also builds the flattened ext4 root filesystem); this package owns what
// lives on the datastore. A record is written last and removed first: a
// folder without one is an interrupted create and is deleted when the
// store opens. After a restart the chain is read back from the datastore,
// and layers no image or writable layer references are removed, unless
// the staging store lists no image at all (lost or new: then nothing
// tells the layers unused, and they stay).
//
// How a layer's disk is written. With a LayerWriter (Config.Writer: vchd
// in the endpoint VM), each layer is written into a disk of its own,
// bottom first, as VIC did: the base layer into a new disk of
// Config.LayerCapacity formatted ext4, every other layer into a child
// (delta) disk of its parent layer's disk, which shows the parent's
// files; the writer attaches the disk to the endpoint VM, mounts it and
// has the staging store apply the layer's diff (whiteouts deleting what
// the parents have), then detaches it keeping the file. So a layer's
// disk holds only its diff, a layer shared by two images is written
// once, and a commit is one child disk of the parent image's top layer.
// The records say delta. A layer left from the other way (below) is
// remade when nothing sits on it, and refused while a writable layer
// does.
//
// Without a writer (tests that run the store in their own process,
// where no VM of the store's could attach a disk), each disk is made with
// CreateVirtualDisk as a flat VMDK (a descriptor plus a raw -flat extent)
// and the parent link is the record's alone: the top layer of every
// pulled image gets the image's whole root filesystem (the ext4 the
// staging store builds) uploaded as its flat extent, a valid
// monolithic-flat VMDK on ESXi too; intermediate layers' extents stay
// empty.
//
// Either way a container's writable layer is a child disk of its
// image's top layer, made by the container VM's reconfigure. The
// simulator has no child disks of its own; tests run them with
// vsimtest.QEMUHost, which keeps a child's writes in a qcow2 beside its
// descriptor over its parent's chain. Untested here (no ESXi): ESXi's
// own delta disks.
package vsstorage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
)

const (
	recordName = "layer.json"
	// emptyLayerKB is the capacity of a layer disk without content.
	emptyLayerKB = 1024
)

// Staging is the store that pulls, pushes and unpacks on the endpoint VM;
// its RootFS is a local path of the flattened ext4.
type Staging interface {
	storage.Store
}

// LayerWriter writes image layers into disks of the image datastore. It
// is declared here, its consumer; cmd/vchd gives the endpoint VM's
// implementation (vsdisk), which attaches each disk to the VM vchd runs
// in.
type LayerWriter interface {
	// WriteLayer creates the disk at the datastore path disk: a child
	// (delta) disk of the disk at parent, which it sees through, or, with
	// parent "", a new disk of capacityKB formatted ext4. It mounts the
	// disk, calls fill with the mounted directory, then syncs, unmounts
	// and detaches it, keeping its file. When it fails, nothing of the
	// disk is left behind.
	WriteLayer(ctx context.Context, disk, parent string, capacityKB int64, fill func(ctx context.Context, dir string) error) error
}

// LayerApplier applies one layer of an image it holds to a directory: its
// diff, whiteouts included, over what the directory has (the staging
// store, local.Store.ApplyLayer; cmd/vchd opens it local.WithLayersOnly,
// so pulls build no flattened root filesystem beside the layer disks).
type LayerApplier interface {
	ApplyLayer(ctx context.Context, dir string, l storage.Layer) error
}

// DefaultLayerCapacity is the capacity of a base layer's disk, and so of
// every child of it: the image's layers and a container's writable
// layer (VIC's default base image size).
const DefaultLayerCapacity = 8 << 30

// Config places the store.
type Config struct {
	Session *vsession.Session
	// Folder is the datastore path of the VCH's image folder,
	// "[ds] PATH/VIC/<vch-id>/images"; writable layers go beside it in
	// "writable".
	Folder  string
	Staging Staging
	Logger  *zap.Logger
	// Writer, if set, writes every layer into its own disk, a child of
	// its parent layer's (the staging store must then be a
	// LayerApplier); unset, the top layer gets the flattened root
	// filesystem (see the package comment).
	Writer LayerWriter
	// LayerCapacity is the capacity in bytes of a base layer's disk when
	// Writer is set; 0 is DefaultLayerCapacity.
	LayerCapacity int64
}

// Store implements storage.Store with layers on a datastore.
type Store struct {
	cfg      Config
	s        *vsession.Session
	ds       *object.Datastore
	images   string // folder on ds, no leading slash
	writable string
	log      *zap.Logger

	// wmu serializes the Writer's layer writes; mu is not held while
	// one runs (about two seconds a layer), so lists, container creates
	// on images already written and removals do not wait for it.
	wmu    sync.Mutex
	mu     sync.Mutex // serializes the other datastore changes; guards layers, rw, busy
	layers map[string]record
	// busy counts, per chain, the image writes (ensureDeltas) that need
	// it: gc keeps them, so no layer goes while a child is written on it
	// (the image can leave the staging store meanwhile: docker rmi).
	busy map[string]int
	rw   map[string]writableRecord // by container ID
}

var _ storage.Store = (*Store)(nil)

// record is a layer's layer.json.
type record struct {
	Chain   string `json:"chain"`            // chain ID, hex
	DiffID  string `json:"diffID"`           // sha256:...
	Parent  string `json:"parent,omitempty"` // parent's chain ID, hex
	Content bool   `json:"content"`          // the flat extent holds the root filesystem up to this layer
	Size    int64  `json:"size,omitempty"`   // bytes of that content
	// Delta: the disk holds this layer's diff only, written by the
	// Writer: a child disk of the parent's, or (no parent) a disk of its
	// own formatted ext4 with the base layer. The root filesystem up to
	// this layer is the whole chain.
	Delta bool `json:"delta,omitempty"`
}

// complete tells whether the layer's disk shows the root filesystem up to
// it, so a writable layer can be its child.
func (r record) complete() bool { return r.Content || r.Delta }

// writableRecord is a writable layer's writable.json.
type writableRecord struct {
	Container string `json:"container"`
	Image     string `json:"image"`
	Parent    string `json:"parent"` // the image's top layer, chain ID hex
}

var hexName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// New opens the store: makes the folders, reads the layers back from the
// datastore, deletes interrupted folders and layers nothing references.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Session == nil || cfg.Staging == nil {
		return nil, errdefs.InvalidParameter("vsphere image store: Session and Staging are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Writer != nil {
		if _, ok := cfg.Staging.(LayerApplier); !ok {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("vsphere image store: a layer writer needs a staging store that applies layers (%T does not)", cfg.Staging))
		}
	}
	if cfg.LayerCapacity <= 0 {
		cfg.LayerCapacity = DefaultLayerCapacity
	}
	var dp object.DatastorePath
	if !dp.FromString(cfg.Folder) || strings.Trim(dp.Path, "/") == "" {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("image store %q is no datastore path: use \"[datastore] folder\"", cfg.Folder))
	}
	ds, err := cfg.Session.Finder.Datastore(ctx, dp.Datastore)
	if err != nil {
		return nil, fmt.Errorf("image store: datastore %q: %w", dp.Datastore, vsession.Classify(err))
	}
	folder := strings.Trim(dp.Path, "/")
	s := &Store{
		cfg: cfg, s: cfg.Session, ds: ds, log: cfg.Logger,
		images: folder, writable: path.Join(path.Dir(folder), "writable"),
		layers: map[string]record{}, rw: map[string]writableRecord{}, busy: map[string]int{},
	}
	for _, f := range []string{s.images, s.writable} {
		if err := s.mkdir(ctx, f, true); err != nil && !errdefs.IsAlreadyExists(err) {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	if err := s.load(ctx); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	imgs, err := cfg.Staging.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if len(imgs) == 0 && len(s.layers) > 0 {
		// A staging store that lost its images (or is new) must not
		// make the layers on the datastore look unused.
		s.log.Warn("the staging store lists no image; the layers on the datastore are kept", zap.Int("layers", len(s.layers)))
		return s, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.gc(ctx); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return s, nil
}

// ChainIDs are the OCI chain IDs (hex) of an image's layers, bottom first.
func ChainIDs(img storage.Image) []string {
	var out []string
	prev := ""
	for _, l := range img.Layers {
		id := l.DiffID
		if prev != "" {
			sum := sha256.Sum256([]byte("sha256:" + prev + " " + l.DiffID))
			id = "sha256:" + hex.EncodeToString(sum[:])
		}
		prev = strings.TrimPrefix(id, "sha256:")
		out = append(out, prev)
	}
	return out
}

func (s *Store) dsPath(p ...string) string { return s.ds.Path(path.Join(p...)) }

func (s *Store) layerDisk(chain string) string { return path.Join(s.images, chain, chain+".vmdk") }

// LayerDisk is the datastore path of a layer's VMDK.
func (s *Store) LayerDisk(chain string) string { return s.ds.Path(s.layerDisk(chain)) }

func (s *Store) fileManager() *object.FileManager { return object.NewFileManager(s.s.Client) }

func (s *Store) mkdir(ctx context.Context, p string, parents bool) error {
	if err := s.fileManager().MakeDirectory(ctx, s.dsPath(p), s.s.Datacenter, parents); err != nil {
		return fmt.Errorf("make %s: %w", s.dsPath(p), vsession.Classify(err))
	}
	return nil
}

func (s *Store) deleteFolder(ctx context.Context, p string) error {
	task, err := s.fileManager().DeleteDatastoreFile(ctx, s.dsPath(p), s.s.Datacenter)
	if err != nil {
		return fmt.Errorf("delete %s: %w", s.dsPath(p), vsession.Classify(err))
	}
	if err := s.s.Wait(ctx, "delete "+s.dsPath(p), task); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	return nil
}

func (s *Store) folders(ctx context.Context, dir string) ([]string, error) {
	b, err := s.ds.Browser(ctx)
	if err != nil {
		return nil, vsession.Classify(err)
	}
	task, err := b.SearchDatastore(ctx, s.dsPath(dir), &types.HostDatastoreBrowserSearchSpec{
		Query:        []types.BaseFileQuery{&types.FolderFileQuery{}},
		MatchPattern: []string{"*"},
	})
	if err != nil {
		return nil, vsession.Classify(err)
	}
	info, err := task.WaitForResult(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.dsPath(dir), vsession.Classify(err))
	}
	res, _ := info.Result.(types.HostDatastoreBrowserSearchResults)
	var out []string
	for _, f := range res.File {
		out = append(out, f.GetFileInfo().Path)
	}
	return out, nil
}

// readJSON reads a record; a missing file is NotFound.
func (s *Store) readJSON(ctx context.Context, p string, v any) error {
	if _, err := s.ds.Stat(ctx, p); err != nil {
		var nf object.DatastoreNoSuchFileError
		var nd object.DatastoreNoSuchDirectoryError
		if errors.As(err, &nf) || errors.As(err, &nd) {
			return errdefs.NotFound(s.ds.Path(p) + ": no record")
		}
		return fmt.Errorf("stat %s: %w", s.ds.Path(p), vsession.Classify(err))
	}
	r, _, err := s.ds.Download(ctx, p, &soap.DefaultDownload)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.ds.Path(p), vsession.Classify(err))
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", s.ds.Path(p), err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("read %s: %w", s.ds.Path(p), err)
	}
	return nil
}

func (s *Store) writeJSON(ctx context.Context, p string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	up := soap.DefaultUpload
	up.ContentLength = int64(len(body))
	if err := s.ds.Upload(ctx, bytes.NewReader(body), p, &up); err != nil {
		return fmt.Errorf("write %s: %w", s.ds.Path(p), vsession.Classify(err))
	}
	return nil
}

// load indexes the layers and writable layers on the datastore and
// deletes folders without a valid record.
func (s *Store) load(ctx context.Context) error {
	names, err := s.folders(ctx, s.images)
	if err != nil {
		return err
	}
	for _, name := range names {
		var rec record
		err := s.readJSON(ctx, path.Join(s.images, name, recordName), &rec)
		if err == nil && (rec.Chain != name || !hexName.MatchString(name)) {
			err = errdefs.NotFound(fmt.Sprintf("%s: record names layer %q", s.dsPath(s.images, name), rec.Chain))
		}
		if err != nil {
			if !errdefs.IsNotFound(err) {
				return err
			}
			s.log.Info("removing an interrupted layer folder", zap.String("folder", s.dsPath(s.images, name)))
			if err := s.deleteFolder(ctx, path.Join(s.images, name)); err != nil {
				return err
			}
			continue
		}
		s.layers[name] = rec
	}
	names, err = s.folders(ctx, s.writable)
	if err != nil {
		return err
	}
	for _, name := range names {
		var rec writableRecord
		err := s.readJSON(ctx, path.Join(s.writable, name, "writable.json"), &rec)
		if err == nil && rec.Container != name {
			err = errdefs.NotFound("record of another container")
		}
		if err != nil {
			if !errdefs.IsNotFound(err) {
				return err
			}
			s.log.Info("removing an interrupted writable layer", zap.String("folder", s.dsPath(s.writable, name)))
			if err := s.deleteFolder(ctx, path.Join(s.writable, name)); err != nil {
				return err
			}
			continue
		}
		s.rw[name] = rec
	}
	return nil
}

// gc removes the layers that no staged image and no writable layer
// references. Callers hold s.mu.
func (s *Store) gc(ctx context.Context) error {
	imgs, err := s.cfg.Staging.List(ctx)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for c := range s.busy {
		used[c] = true
	}
	for _, img := range imgs {
		for _, c := range ChainIDs(img) {
			used[c] = true
		}
	}
	for _, w := range s.rw {
		for c := w.Parent; c != "" && !used[c]; c = s.layers[c].Parent {
			used[c] = true
		}
	}
	for chain := range s.layers {
		if used[chain] {
			continue
		}
		if err := s.removeLayer(ctx, chain); err != nil {
			return err
		}
	}
	return nil
}

// removeLayer deletes the record, then the disk and folder; a failure
// after the record is gone leaves a folder the next open deletes.
func (s *Store) removeLayer(ctx context.Context, chain string) error {
	fm := s.ds.NewFileManager(s.s.Datacenter, true)
	if err := fm.DeleteFile(ctx, path.Join(s.images, chain, recordName)); err != nil && !errdefs.IsNotFound(vsession.Classify(err)) {
		return fmt.Errorf("remove layer %s: record: %w", chain, vsession.Classify(err))
	}
	delete(s.layers, chain)
	if err := fm.DeleteVirtualDisk(ctx, s.layerDisk(chain)); err != nil {
		s.log.Warn("layer disk not deleted; the next open removes its folder", zap.String("layer", chain), zap.Error(err))
		return nil
	}
	if err := s.deleteFolder(ctx, path.Join(s.images, chain)); err != nil {
		s.log.Warn("layer folder not deleted; the next open removes it", zap.String("layer", chain), zap.Error(err))
	}
	return nil
}

func (s *Store) createDisk(ctx context.Context, p string, kb int64) error {
	spec := &types.FileBackedVirtualDiskSpec{
		VirtualDiskSpec: types.VirtualDiskSpec{
			AdapterType: string(types.VirtualDiskAdapterTypeLsiLogic),
			DiskType:    string(types.VirtualDiskTypeThin),
		},
		CapacityKb: kb,
	}
	task, err := object.NewVirtualDiskManager(s.s.Client).CreateVirtualDisk(ctx, s.ds.Path(p), s.s.Datacenter, spec)
	if err != nil {
		return fmt.Errorf("create disk %s: %w", s.ds.Path(p), vsession.Classify(err))
	}
	return s.s.Wait(ctx, "create disk "+s.ds.Path(p), task)
}

// flatExtent is the raw extent of a flat VMDK, beside its descriptor.
func flatExtent(disk string) string { return strings.TrimSuffix(disk, ".vmdk") + "-flat.vmdk" }

// ensureLayer makes a layer's folder, disk and record if missing. With
// content (a local ext4 file), the disk is (re)made with the file as its
// flat extent. Callers hold s.mu.
func (s *Store) ensureLayer(ctx context.Context, rec record, content string) error {
	have, ok := s.layers[rec.Chain]
	if ok && (content == "" || have.complete()) {
		return nil
	}
	dir := path.Join(s.images, rec.Chain)
	disk := s.layerDisk(rec.Chain)
	if !ok {
		if err := s.mkdir(ctx, dir, false); err != nil && !errdefs.IsAlreadyExists(err) {
			return err
		}
	} else {
		// An intermediate layer becomes an image's top: remake its disk
		// with the content's size (the record, still without content,
		// stays valid meanwhile).
		if err := s.ds.NewFileManager(s.s.Datacenter, true).DeleteVirtualDisk(ctx, disk); err != nil && !errdefs.IsNotFound(vsession.Classify(err)) {
			return fmt.Errorf("layer %s: remake disk: %w", rec.Chain, vsession.Classify(err))
		}
	}
	kb := int64(emptyLayerKB)
	var f *os.File
	if content != "" {
		var err error
		if f, err = os.Open(content); err != nil {
			return fmt.Errorf("layer %s: %w", rec.Chain, err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		rec.Content, rec.Size = true, st.Size()
		kb = (st.Size() + 1023) / 1024
	}
	if err := s.createDisk(ctx, disk, kb); err != nil {
		return fmt.Errorf("layer %s: %w", rec.Chain, err)
	}
	if f != nil {
		up := soap.DefaultUpload
		up.ContentLength = rec.Size
		if err := s.ds.Upload(ctx, f, flatExtent(disk), &up); err != nil {
			return fmt.Errorf("layer %s: upload root filesystem: %w", rec.Chain, vsession.Classify(err))
		}
	}
	if err := s.writeJSON(ctx, path.Join(dir, recordName), rec); err != nil {
		return fmt.Errorf("layer %s: %w", rec.Chain, err)
	}
	s.layers[rec.Chain] = rec
	return nil
}

// ensureImage puts the image's whole chain on the datastore, and returns
// the top layer's chain ID: with a Writer each layer's diff in its own
// disk (ensureDeltas), else the root filesystem in its top layer.
func (s *Store) ensureImage(ctx context.Context, img storage.Image, pr *layerProgress) (string, error) {
	chains := ChainIDs(img)
	if len(chains) == 0 {
		return "", errdefs.NotImplemented(fmt.Sprintf("image %s has no layers; the vsphere image store needs one", img.ID))
	}
	if s.cfg.Writer != nil {
		return s.ensureDeltas(ctx, img, chains, pr)
	}
	top := chains[len(chains)-1]
	s.mu.Lock()
	done := s.layers[top].complete()
	s.mu.Unlock()
	content := ""
	if !done {
		// The flattened root filesystem, built by the staging store.
		var err error
		if content, err = s.cfg.Staging.RootFS(ctx, img.ID); err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range chains {
		rec := record{Chain: c, DiffID: img.Layers[i].DiffID}
		if i > 0 {
			rec.Parent = chains[i-1]
		}
		src := ""
		if i == len(chains)-1 {
			src = content
		}
		if err := s.ensureLayer(ctx, rec, src); err != nil {
			return "", fmt.Errorf("image %s: %w", img.ID, err)
		}
	}
	return top, nil
}

// ensureDeltas writes the image's layers that are not on the datastore,
// bottom first, each into a disk of its own through the Writer: the base
// layer a new disk, every other a child of its parent layer's disk; the
// Writer fills it with the layer's diff applied by the staging store. The
// record comes last; a layer whose write failed leaves no folder. A layer
// of the flattened kind (written before there was a Writer) is remade
// when no writable layer sits on it, and refused while one does. Writes
// take turns on wmu; an image whose layers are all written returns at
// once. pr (may be nil) hears each layer's progress.
func (s *Store) ensureDeltas(ctx context.Context, img storage.Image, chains []string, pr *layerProgress) (string, error) {
	top := chains[len(chains)-1]
	if s.written(chains) {
		for _, l := range img.Layers {
			pr.done(l)
		}
		return top, nil
	}
	s.hold(chains, 1)
	defer s.hold(chains, -1)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for i, c := range chains {
		rec := record{Chain: c, DiffID: img.Layers[i].DiffID, Delta: true}
		if i > 0 {
			rec.Parent = chains[i-1]
		}
		if err := s.makeRoomFor(ctx, img.ID, c); err != nil {
			return "", err
		}
		if s.written(chains[i : i+1]) {
			pr.done(img.Layers[i])
			continue
		}
		pr.extracting(img.Layers[i])
		if err := s.writeDelta(ctx, rec, img.Layers[i]); err != nil {
			return "", fmt.Errorf("image %s: %w", img.ID, err)
		}
		pr.written(img.Layers[i])
	}
	return top, nil
}

// hold adds n to the busy count of each chain.
func (s *Store) hold(chains []string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range chains {
		if s.busy[c] += n; s.busy[c] <= 0 {
			delete(s.busy, c)
		}
	}
}

// written tells whether every layer of chains is on the datastore as a
// delta disk.
func (s *Store) written(chains []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range chains {
		if !s.layers[c].Delta {
			return false
		}
	}
	return true
}

// makeRoomFor removes layer c if it is of the flattened kind, so that it
// can be written as a delta, and refuses while a container's writable
// layer sits on it.
func (s *Store) makeRoomFor(ctx context.Context, image, c string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	have, ok := s.layers[c]
	if !ok || have.Delta {
		return nil
	}
	if w := s.writableOn(c); w != "" {
		return errdefs.FailedPrecondition(fmt.Sprintf("image %s: layer %s holds a flattened root filesystem and container %s's writable layer is its child; it cannot become a child disk until that container is removed", image, c, w))
	}
	if err := s.removeLayer(ctx, c); err != nil {
		return fmt.Errorf("image %s: remake layer %s: %w", image, c, err)
	}
	return nil
}

// writableOn names a container whose writable layer's chain includes the
// layer chain ("" if none). Callers hold s.mu.
func (s *Store) writableOn(chain string) string {
	for id, w := range s.rw {
		for c := w.Parent; c != ""; c = s.layers[c].Parent {
			if c == chain {
				return id
			}
		}
	}
	return ""
}

// writeDelta makes one layer's folder, disk (through the Writer) and
// record. Callers hold s.wmu, not s.mu: until its record is in s.layers
// nothing else looks at the layer's folder.
func (s *Store) writeDelta(ctx context.Context, rec record, l storage.Layer) error {
	dir := path.Join(s.images, rec.Chain)
	err := s.mkdir(ctx, dir, false)
	if errdefs.IsAlreadyExists(err) {
		// A folder without a record: an interrupted create of this
		// process's (the open deletes older ones).
		if err = s.deleteFolder(ctx, dir); err == nil {
			err = s.mkdir(ctx, dir, false)
		}
	}
	if err != nil {
		return fmt.Errorf("layer %s: %w", rec.Chain, err)
	}
	parent := ""
	if rec.Parent != "" {
		parent = s.LayerDisk(rec.Parent)
	}
	applier := s.cfg.Staging.(LayerApplier)
	fill := func(ctx context.Context, mnt string) error { return applier.ApplyLayer(ctx, mnt, l) }
	undo := func() {
		if err := s.deleteFolder(context.WithoutCancel(ctx), dir); err != nil {
			s.log.Warn("folder of a layer not written not deleted; the next open removes it", zap.String("layer", rec.Chain), zap.Error(err))
		}
	}
	if err := s.cfg.Writer.WriteLayer(ctx, s.LayerDisk(rec.Chain), parent, s.cfg.LayerCapacity/1024, fill); err != nil {
		undo()
		return fmt.Errorf("layer %s: write: %w", rec.Chain, err)
	}
	if err := s.writeJSON(ctx, path.Join(dir, recordName), rec); err != nil {
		if derr := s.ds.NewFileManager(s.s.Datacenter, true).DeleteVirtualDisk(context.WithoutCancel(ctx), s.layerDisk(rec.Chain)); derr != nil {
			s.log.Warn("disk of a layer without a record not deleted", zap.String("layer", rec.Chain), zap.Error(derr))
		}
		undo()
		return fmt.Errorf("layer %s: %w", rec.Chain, err)
	}
	s.mu.Lock()
	s.layers[rec.Chain] = rec
	s.mu.Unlock()
	s.log.Info("layer written", zap.String("layer", rec.Chain), zap.String("parent", rec.Parent), zap.String("diffID", rec.DiffID))
	return nil
}

// Pull pulls into the staging store, then writes the layer chain. With a
// Writer, a layer's "Extracting" and "Pull complete" are its disk's
// write, not the staging store's check of it.
func (s *Store) Pull(ctx context.Context, ref string, opts storage.PullOptions) (storage.Image, error) {
	var pr *layerProgress
	if s.cfg.Writer != nil && opts.Progress != nil {
		pr = &layerProgress{report: opts.Progress, seen: map[string]bool{}, exists: map[string]bool{}}
		opts.Progress = pr.staging
	}
	img, err := s.cfg.Staging.Pull(ctx, ref, opts)
	if err != nil {
		return img, err
	}
	if _, err := s.ensureImage(ctx, img, pr); err != nil {
		return storage.Image{}, err
	}
	return img, nil
}

// layerProgress reports a pull's layer writes in docker's progress texts.
// A nil *layerProgress reports nothing.
type layerProgress struct {
	report func(storage.Progress)
	mu     sync.Mutex
	seen   map[string]bool // layers the staging store reported on
	exists map[string]bool // those it reported "Already exists"
}

// staging passes the staging store's progress on but for its
// "Extracting" and "Pull complete", which the layer writes report.
func (p *layerProgress) staging(sp storage.Progress) {
	switch sp.Status {
	case "Extracting", "Pull complete":
		return
	}
	p.mu.Lock()
	p.seen[sp.ID] = true
	if sp.Status == "Already exists" {
		p.exists[sp.ID] = true
	}
	p.mu.Unlock()
	p.report(sp)
}

func shortID(l storage.Layer) string {
	_, hex, _ := strings.Cut(l.Digest, ":")
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return hex
}

func (p *layerProgress) extracting(l storage.Layer) {
	if p != nil {
		p.report(storage.Progress{ID: shortID(l), Status: "Extracting"})
	}
}

func (p *layerProgress) written(l storage.Layer) {
	if p != nil {
		p.report(storage.Progress{ID: shortID(l), Status: "Pull complete"})
	}
}

// done reports a layer found on the datastore: complete if the pull
// showed its line, unless that line says it exists already (a pull that
// is up to date shows no layer lines, as docker's).
func (p *layerProgress) done(l storage.Layer) {
	if p == nil {
		return
	}
	p.mu.Lock()
	open := p.seen[shortID(l)] && !p.exists[shortID(l)]
	p.mu.Unlock()
	if open {
		p.written(l)
	}
}

// Commit stores the image docker commit makes: the staging store keeps
// it (blobs, config, its flattened root filesystem) and the new layer
// goes on the datastore as the child of the parent image's top layer:
// with a Writer a child disk holding only the commit's diff, else a disk
// holding the image's root filesystem as a pulled image's top layer does.
// A staging store that cannot commit makes it NotImplemented.
func (s *Store) Commit(ctx context.Context, opts storage.CommitOptions) (storage.Image, error) {
	c, ok := s.cfg.Staging.(storage.Committer)
	if !ok {
		return storage.Image{}, errdefs.NotImplemented("commit is not supported by this VCH's staging image store")
	}
	img, err := c.Commit(ctx, opts)
	if err != nil {
		return storage.Image{}, err
	}
	if _, err := s.ensureImage(ctx, img, nil); err != nil {
		// Nothing may refer to an image whose layer is not on the
		// datastore: take it back out of the staging store.
		if rerr := s.cfg.Staging.Remove(context.WithoutCancel(ctx), img.ID); rerr != nil {
			s.log.Warn("committed image not removed after its layer failed", zap.String("image", img.ID), zap.Error(rerr))
		}
		return storage.Image{}, fmt.Errorf("commit: %w", err)
	}
	return img, nil
}

var _ storage.Committer = (*Store)(nil)

// Push pushes from the staging store.
func (s *Store) Push(ctx context.Context, ref, id string, opts storage.PushOptions) (storage.PushResult, error) {
	return s.cfg.Staging.Push(ctx, ref, id, opts)
}

// Login checks credentials through the staging store.
func (s *Store) Login(ctx context.Context, host string, auth storage.Auth) (string, error) {
	return s.cfg.Staging.Login(ctx, host, auth)
}

// Get returns one image.
func (s *Store) Get(ctx context.Context, id string) (storage.Image, error) {
	return s.cfg.Staging.Get(ctx, id)
}

// List returns the images.
func (s *Store) List(ctx context.Context) ([]storage.Image, error) {
	return s.cfg.Staging.List(ctx)
}

// RootFS is the datastore path of the image's top layer disk,
// "[ds] .../images/<chain>/<chain>.vmdk": never a host path.
func (s *Store) RootFS(ctx context.Context, id string) (string, error) {
	img, err := s.cfg.Staging.Get(ctx, id)
	if err != nil {
		return "", err
	}
	top, err := s.ensureImage(ctx, img, nil)
	if err != nil {
		return "", err
	}
	return s.LayerDisk(top), nil
}

// Remove removes the image from the staging store, then every layer on
// the datastore no image or writable layer references.
func (s *Store) Remove(ctx context.Context, id string) error {
	if err := s.cfg.Staging.Remove(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gc(ctx)
}

// BlobCount counts the staging store's blobs, if it can.
func (s *Store) BlobCount(ctx context.Context) (int, error) {
	bc, ok := s.cfg.Staging.(interface {
		BlobCount(context.Context) (int, error)
	})
	if !ok {
		return 0, errdefs.NotImplemented("the staging store does not count blobs")
	}
	return bc.BlobCount(ctx)
}

// Layers lists the layers on the datastore: chain ID to parent chain ID.
func (s *Store) Layers() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for c, r := range s.layers {
		out[c] = r.Parent
	}
	return out
}

func (s *Store) writableDisk(container string) string {
	return path.Join(s.writable, container, container+".vmdk")
}

var containerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Writable makes (or returns) the container's writable layer: its folder
// and record, and the datastore path its disk is to have. The disk itself
// is made by the VM that attaches it, as a child of the image's top layer
// (WritableParent): a disk device with a parent backing and the "create"
// file operation, which is how vSphere makes child disks (and what the
// simulator implements). The image's layers stay while the record does.
func (s *Store) Writable(ctx context.Context, container, imageID string) (string, error) {
	if !containerName.MatchString(container) {
		return "", errdefs.InvalidParameter(fmt.Sprintf("writable layer: bad container ID %q", container))
	}
	img, err := s.cfg.Staging.Get(ctx, imageID)
	if err != nil {
		return "", err
	}
	top, err := s.ensureImage(ctx, img, nil)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.layers[top].complete() {
		// The image went (docker rmi) and gc took its layers between
		// ensureImage and here.
		return "", errdefs.NotFound("No such image: " + img.ID)
	}
	if w, ok := s.rw[container]; ok {
		if w.Image != img.ID {
			return "", errdefs.New(errdefs.ErrAlreadyExists, fmt.Sprintf("container %s already has a writable layer of image %s", container, w.Image))
		}
		return s.ds.Path(s.writableDisk(container)), nil
	}
	dir := path.Join(s.writable, container)
	if err := s.mkdir(ctx, dir, false); err != nil && !errdefs.IsAlreadyExists(err) {
		return "", err
	}
	rec := writableRecord{Container: container, Image: img.ID, Parent: top}
	if err := s.writeJSON(ctx, path.Join(dir, "writable.json"), rec); err != nil {
		_ = s.deleteFolder(context.WithoutCancel(ctx), dir)
		return "", fmt.Errorf("writable layer of %s: %w", container, err)
	}
	s.rw[container] = rec
	return s.ds.Path(s.writableDisk(container)), nil
}

// WritableParent is the layer disk a container's writable layer is a
// child of.
func (s *Store) WritableParent(container string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.rw[container]
	if !ok {
		return "", errdefs.NotFound(fmt.Sprintf("no writable layer for container %s", container))
	}
	return s.LayerDisk(w.Parent), nil
}

// RemoveWritable deletes the container's writable layer, then the layers
// only it kept.
func (s *Store) RemoveWritable(ctx context.Context, container string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rw[container]; !ok {
		return errdefs.NotFound(fmt.Sprintf("no writable layer for container %s", container))
	}
	fm := s.ds.NewFileManager(s.s.Datacenter, true)
	if err := fm.DeleteFile(ctx, path.Join(s.writable, container, "writable.json")); err != nil {
		return fmt.Errorf("remove writable layer of %s: %w", container, vsession.Classify(err))
	}
	delete(s.rw, container)
	if err := s.deleteFolder(ctx, path.Join(s.writable, container)); err != nil {
		s.log.Warn("writable layer folder not deleted; the next open removes it", zap.String("container", container), zap.Error(err))
	}
	return s.gc(ctx)
}
