package vsstorage_test

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/local"
	"github.com/vchproject/vch/portlayer/storage/storagetest"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/portlayer/vsphere/vsstorage"
	"github.com/vchproject/vch/tests/fixture"
)

const dsName = "LocalDS_0"

// dsDir is the host directory behind the simulator's datastore.
func dsDir(t *testing.T, sess *vsession.Session) string {
	t.Helper()
	ds, err := sess.Finder.Datastore(context.Background(), dsName)
	if err != nil {
		t.Fatal(err)
	}
	var m mo.Datastore
	if err := ds.Properties(context.Background(), ds.Reference(), []string{"summary"}, &m); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(m.Summary.Url, "ds://")
}

// hostPath maps "[LocalDS_0] p/x.vmdk" to the simulator's file holding
// the disk's content, x-flat.vmdk.
func hostPath(t *testing.T, dir, dsPath string) string {
	t.Helper()
	var dp object.DatastorePath
	if !dp.FromString(dsPath) || dp.Datastore != dsName || !strings.HasSuffix(dp.Path, ".vmdk") {
		t.Fatalf("RootFS gave %q, want a VMDK on %s", dsPath, dsName)
	}
	return filepath.Join(dir, strings.TrimSuffix(dp.Path, ".vmdk")+"-flat.vmdk")
}

// onHost presents the store to the conformance suite, whose disk checks
// read files: RootFS's datastore path becomes the simulator's host file
// of the disk's flat extent (the only translation; everything else is the
// store's own).
type onHost struct {
	*vsstorage.Store
	t   *testing.T
	dir string
}

func (o onHost) RootFS(ctx context.Context, id string) (string, error) {
	p, err := o.Store.RootFS(ctx, id)
	if err != nil {
		return "", err
	}
	return hostPath(o.t, o.dir, p), nil
}

type env struct {
	sess    *vsession.Session
	folder  string
	staging *local.Store
}

func newEnv(t *testing.T) env {
	sim := vsimtest.Shared(t)
	sess := sim.Session(t)
	// Layers only, as cmd/vchd opens it: the flattened root filesystem,
	// which only a store without a Writer uploads, is built on demand.
	staging, err := local.New(t.TempDir(), zaptest.NewLogger(t), local.WithLayersOnly())
	if err != nil {
		t.Fatal(err)
	}
	name := strings.NewReplacer("/", "-", "#", "-").Replace(t.Name())
	return env{sess: sess, staging: staging, folder: fmt.Sprintf("[%s] vsart/VIC/%s/images", dsName, name)}
}

func (e env) open(t *testing.T) *vsstorage.Store {
	t.Helper()
	s, err := vsstorage.New(context.Background(), vsstorage.Config{Session: e.sess, Folder: e.folder, Staging: e.staging, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		e := newEnv(t)
		return onHost{Store: e.open(t), t: t, dir: dsDir(t, e.sess)}
	})
}

// The suite again, with a layer writer: every layer a disk of its own
// written by applying the layer (whiteouts, hostile entries and all) into
// the tree its disk stands for, the image's top layer disk carrying that
// tree as ext4 for the suite's checks.
func TestConformanceWithWriter(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		e := newEnv(t)
		w := newTreeWriter(t, e.sess)
		w.dsDir = dsDir(t, e.sess)
		return onHost{Store: e.openWith(t, w, testCapacity), t: t, dir: w.dsDir}
	})
}

func pushTwo(t *testing.T) (reg *fixture.Registry, bbRef, twoRef string) {
	t.Helper()
	reg = fixture.StartRegistry(t)
	bb, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	wl, err := fixture.WhiteoutLayer()
	if err != nil {
		t.Fatal(err)
	}
	two, err := fixture.WithLayer(bb, fixture.ImageConfig{Cmd: []string{"cat", "/added.txt"}}, wl)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for repo, img := range map[string]*fixture.Image{"busybox": bb, "two": two} {
		if err := fixture.Push(ctx, reg.Addr, repo, "latest", img); err != nil {
			t.Fatal(err)
		}
	}
	return reg, reg.Addr + "/busybox:latest", reg.Addr + "/two:latest"
}

// Layers form a chain on the datastore: one folder per chain ID, the
// second image's top layer a child of busybox's layer, which both share.
func TestLayerChain(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.open(t)
	_, bbRef, twoRef := pushTwo(t)
	bb, err := s.Pull(ctx, bbRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	two, err := s.Pull(ctx, twoRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bbChain, twoChain := vsstorage.ChainIDs(bb), vsstorage.ChainIDs(two)
	if len(bbChain) != 1 || len(twoChain) != 2 || twoChain[0] != bbChain[0] {
		t.Fatalf("chains %v %v", bbChain, twoChain)
	}
	layers := s.Layers()
	if len(layers) != 2 || layers[bbChain[0]] != "" || layers[twoChain[1]] != bbChain[0] {
		t.Fatalf("layers on the datastore: %v", layers)
	}
	root, err := s.RootFS(ctx, two.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s/%s/%s.vmdk", e.folder, twoChain[1], twoChain[1])
	if root != want {
		t.Fatalf("RootFS = %q, want %q", root, want)
	}
	dir := dsDir(t, e.sess)
	for _, c := range twoChain {
		var dp object.DatastorePath
		dp.FromString(e.folder)
		for _, f := range []string{c + ".vmdk", c + "-flat.vmdk", "layer.json"} {
			if _, err := os.Stat(filepath.Join(dir, dp.Path, c, f)); err != nil {
				t.Fatalf("layer %s: %v", c, err)
			}
		}
	}
	desc, err := os.ReadFile(strings.TrimSuffix(hostPath(t, dir, root), "-flat.vmdk") + ".vmdk")
	if err != nil || !strings.Contains(string(desc), twoChain[1]+"-flat.vmdk") {
		t.Fatalf("descriptor %q (%v) does not name its flat extent", desc, err)
	}
}

// After a restart the chain is read back from the datastore; a folder
// without a record (an interrupted create) and the layers of an image
// removed meanwhile are deleted.
func TestRecoveredAfterRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.open(t)
	_, bbRef, twoRef := pushTwo(t)
	bb, err := s.Pull(ctx, bbRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	two, err := s.Pull(ctx, twoRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := s.Layers()
	half := e.folder + "/" + strings.Repeat("a", 64)
	if err := object.NewFileManager(e.sess.Client).MakeDirectory(ctx, half, e.sess.Datacenter, false); err != nil {
		t.Fatal(err)
	}
	again := e.open(t)
	if got := again.Layers(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("after reopen %v, want %v", got, before)
	}
	if _, err := e.sess.Finder.Datastore(ctx, dsName); err != nil {
		t.Fatal(err)
	}
	var dp object.DatastorePath
	dp.FromString(half)
	if _, err := os.Stat(filepath.Join(dsDir(t, e.sess), dp.Path)); !os.IsNotExist(err) {
		t.Fatalf("interrupted folder still there: %v", err)
	}
	// The image goes while no vsphere store is open (only the staging
	// store knows): the next open removes its own top layer, keeps the
	// shared one.
	if err := e.staging.Remove(ctx, two.ID); err != nil {
		t.Fatal(err)
	}
	third := e.open(t)
	if got := third.Layers(); len(got) != 1 || got[vsstorage.ChainIDs(bb)[0]] != "" {
		t.Fatalf("after removing %s offline: %v", two.ID, got)
	}
	root, err := third.RootFS(ctx, bb.ID)
	if err != nil || root != third.LayerDisk(vsstorage.ChainIDs(bb)[0]) {
		t.Fatalf("busybox's rootfs %q %v", root, err)
	}
}

// A store opened over a staging store that lists no image (lost, or new)
// keeps the layers on the datastore: it cannot tell them unused.
func TestEmptyStagingKeepsLayers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.open(t)
	_, bbRef, twoRef := pushTwo(t)
	for _, ref := range []string{bbRef, twoRef} {
		if _, err := s.Pull(ctx, ref, storage.PullOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Layers()
	lost, err := local.New(t.TempDir(), zaptest.NewLogger(t), local.WithLayersOnly())
	if err != nil {
		t.Fatal(err)
	}
	e.staging = lost
	again := e.open(t)
	if got := again.Layers(); len(got) != 2 || fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("after an open over an empty staging store %v, want %v", got, before)
	}
	for c := range before {
		if _, err := os.Stat(layerFiles(t, e, c)); err != nil {
			t.Fatalf("layer %s: %v", c, err)
		}
	}
}

// A container's writable layer is a disk whose parent is its image's top
// layer; it keeps the image's layers after the image is removed, and its
// removal frees them.
func TestWritableLayer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.open(t)
	_, _, twoRef := pushTwo(t)
	two, err := s.Pull(ctx, twoRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := s.Writable(ctx, "c1", two.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := path.Dir(e.folder) + "/writable/c1/c1.vmdk"; disk != want {
		t.Fatalf("writable disk %q, want %q", disk, want)
	}
	top := vsstorage.ChainIDs(two)[1]
	if parent, err := s.WritableParent("c1"); err != nil || parent != s.LayerDisk(top) {
		t.Fatalf("parent %q %v, want %q", parent, err, s.LayerDisk(top))
	}
	if err := s.Remove(ctx, two.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.Layers(); len(got) != 2 {
		t.Fatalf("layers under a writable layer were removed: %v", got)
	}
	reopened := e.open(t)
	if parent, err := reopened.WritableParent("c1"); err != nil || parent != s.LayerDisk(top) {
		t.Fatalf("after reopen: parent %q %v", parent, err)
	}
	if err := reopened.RemoveWritable(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if got := reopened.Layers(); len(got) != 0 {
		t.Fatalf("layers left after the last writable layer went: %v", got)
	}
	if err := reopened.RemoveWritable(ctx, "c1"); !errdefs.IsNotFound(err) {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := reopened.Writable(ctx, "../x", two.ID); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad container ID: %v", err)
	}
}

// A folder that is no datastore path is refused.
func TestBadFolder(t *testing.T) {
	e := newEnv(t)
	_, err := vsstorage.New(context.Background(), vsstorage.Config{Session: e.sess, Folder: "/var/lib/images", Staging: e.staging})
	if !errdefs.IsInvalidParameter(err) {
		t.Fatalf("got %v", err)
	}
	_, err = vsstorage.New(context.Background(), vsstorage.Config{Session: e.sess, Folder: "[nosuchds] images", Staging: e.staging})
	if !errdefs.IsNotFound(err) {
		t.Fatalf("unknown datastore: %v", err)
	}
}
