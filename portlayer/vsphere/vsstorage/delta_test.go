package vsstorage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/ext4"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/portlayer/vsphere/vsstorage"
)

// treeWriter is a LayerWriter for tests that run the store without an
// endpoint VM: it makes each disk on the datastore (a flat VMDK, so the
// store's deletes find it), and stands for its file system with a
// directory tree on the host: a base disk starts empty, a child disk
// starts as a copy of its parent's tree (what a child disk shows through
// it); fill runs on that tree. It records what it was asked, and the
// changes each fill made to what the disk showed before it (its diff).
type treeWriter struct {
	t    *testing.T
	sess *vsession.Session
	root string

	mu     sync.Mutex
	trees  map[string]string // disk → its tree
	calls  []writeCall
	seq    int
	failOn string // a fill on a disk whose path contains this fails
	// hold, when set, makes a write say so on entered after its fill
	// (the layer applied, the disk not yet let go of) and wait for hold
	// to close.
	hold, entered chan struct{}
	holdOn        string // if set, only a write of a disk whose path contains it is held
	// dsDir, when set (the datastore's host directory), makes each
	// written disk's flat extent an ext4 file system of the tree the disk
	// stands for, so what reads the image's top layer disk sees the
	// image's files.
	dsDir string
}

type writeCall struct {
	Disk, Parent string
	KB           int64
	Diff         []string // "+path" written, "-path" gone
}

func newTreeWriter(t *testing.T, sess *vsession.Session) *treeWriter {
	return &treeWriter{t: t, sess: sess, root: t.TempDir(), trees: map[string]string{}}
}

func (w *treeWriter) WriteLayer(ctx context.Context, disk, parent string, kb int64, fill func(context.Context, string) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	spec := &types.FileBackedVirtualDiskSpec{VirtualDiskSpec: types.VirtualDiskSpec{AdapterType: "lsiLogic", DiskType: "thin"}, CapacityKb: kb}
	task, err := object.NewVirtualDiskManager(w.sess.Client).CreateVirtualDisk(ctx, disk, w.sess.Datacenter, spec)
	if err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil {
		return fmt.Errorf("create %s: %w", disk, err)
	}
	w.seq++
	tree := filepath.Join(w.root, fmt.Sprint(w.seq))
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	if parent != "" {
		pt, ok := w.trees[parent]
		if !ok {
			return fmt.Errorf("parent %s was never written", parent)
		}
		if out, err := exec.Command("cp", "-a", pt+"/.", tree).CombinedOutput(); err != nil {
			return fmt.Errorf("cp: %v: %s", err, out)
		}
	}
	before := listTree(w.t, tree)
	err = fill(ctx, tree)
	if w.hold != nil && strings.Contains(disk, w.holdOn) {
		w.entered <- struct{}{}
		<-w.hold
	}
	if err == nil && w.failOn != "" && strings.Contains(disk, w.failOn) {
		err = errors.New("injected failure")
	}
	if err != nil {
		// Undo as the endpoint's writer does: the disk goes.
		task, derr := object.NewVirtualDiskManager(w.sess.Client).DeleteVirtualDisk(context.WithoutCancel(ctx), disk, w.sess.Datacenter)
		if derr == nil {
			derr = task.Wait(ctx)
		}
		if derr != nil {
			w.t.Errorf("undo %s: %v", disk, derr)
		}
		return err
	}
	after := listTree(w.t, tree)
	var diff []string
	for p, sum := range after {
		if b, ok := before[p]; !ok || b != sum {
			diff = append(diff, "+"+p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			diff = append(diff, "-"+p)
		}
	}
	sort.Strings(diff)
	if w.dsDir != "" {
		if err := w.makeExt4(ctx, disk, tree); err != nil {
			return err
		}
	}
	w.trees[disk] = tree
	w.calls = append(w.calls, writeCall{Disk: disk, Parent: parent, KB: kb, Diff: diff})
	return nil
}

func (w *treeWriter) makeExt4(ctx context.Context, disk, tree string) error {
	var dp object.DatastorePath
	if !dp.FromString(disk) {
		return fmt.Errorf("disk %q is no datastore path", disk)
	}
	flat := filepath.Join(w.dsDir, strings.TrimSuffix(dp.Path, ".vmdk")+"-flat.vmdk")
	tmp := flat + ".new"
	if err := ext4.Make(ctx, tmp, 256<<20, tree, ""); err != nil {
		return err
	}
	return os.Rename(tmp, flat)
}

func (w *treeWriter) Calls() []writeCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]writeCall(nil), w.calls...)
}

// listTree maps each path under dir to its kind and content.
func listTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out[rel] = "dir"
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "file:" + string(b)
		default:
			out[rel] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newDeltaStore is a store with a treeWriter of testCapacity.
func newDeltaStore(t *testing.T) (env, *treeWriter, *vsstorage.Store) {
	t.Helper()
	e := newEnv(t)
	w := newTreeWriter(t, e.sess)
	return e, w, e.openWith(t, w, testCapacity)
}

func (e env) openWith(t *testing.T, w vsstorage.LayerWriter, capacity int64) *vsstorage.Store {
	t.Helper()
	s, err := vsstorage.New(context.Background(), vsstorage.Config{Session: e.sess, Folder: e.folder, Staging: e.staging, Logger: zaptest.NewLogger(t),
		Writer: w, LayerCapacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// layerFiles is the host directory of a layer's folder.
func layerFiles(t *testing.T, e env, chain string) string {
	var dp object.DatastorePath
	dp.FromString(e.folder)
	return filepath.Join(dsDir(t, e.sess), dp.Path, chain)
}

const testCapacity = 64 << 20

// TestDeltaLayers: with a Writer every layer is written into a disk of
// its own, bottom first: busybox's layer into a new disk of the
// configured capacity, the second image's layer into a child of it,
// holding only that layer's diff (the file it adds, the files its
// whiteouts delete, an opaque directory's old content gone); a layer on
// the datastore already is not written again; nothing is uploaded (the
// top layer's flat extent stays empty) and the records say delta. After a
// reopen the chain is read back; a writable layer keeps the chain after
// the images go, and its removal frees it.
func TestDeltaLayers(t *testing.T) {
	ctx := context.Background()
	e, w, s := newDeltaStore(t)
	_, bbRef, twoRef := pushTwo(t)
	bb, err := s.Pull(ctx, bbRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := vsstorage.ChainIDs(bb)[0]
	calls := w.Calls()
	if len(calls) != 1 || calls[0].Disk != s.LayerDisk(base) || calls[0].Parent != "" || calls[0].KB != testCapacity/1024 {
		t.Fatalf("writes for busybox: %+v", calls)
	}
	if d := strings.Join(calls[0].Diff, " "); !strings.Contains(d, "+bin/busybox") || !strings.Contains(d, "+etc/group") || strings.Contains(" "+d, " -") {
		t.Fatalf("busybox's layer: %s", d)
	}
	two, err := s.Pull(ctx, twoRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	top := vsstorage.ChainIDs(two)[1]
	calls = w.Calls()
	if len(calls) != 2 || calls[1].Disk != s.LayerDisk(top) || calls[1].Parent != s.LayerDisk(base) {
		t.Fatalf("writes for the second image: %+v", calls)
	}
	want := []string{"+added.txt", "+var/new.txt", "-etc/group", "-var/tmp"}
	if fmt.Sprint(calls[1].Diff) != fmt.Sprint(want) {
		t.Fatalf("the second layer's diff %v, want %v", calls[1].Diff, want)
	}
	if got := s.Layers(); len(got) != 2 || got[base] != "" || got[top] != base {
		t.Fatalf("layers %v", got)
	}
	if root, err := s.RootFS(ctx, two.ID); err != nil || root != s.LayerDisk(top) {
		t.Fatalf("RootFS %q %v", root, err)
	}
	for _, c := range []string{base, top} {
		if st, err := os.Stat(filepath.Join(layerFiles(t, e, c), c+"-flat.vmdk")); err != nil || st.Size() != 0 {
			t.Fatalf("layer %s's flat extent: %v %v (nothing is uploaded)", c, st, err)
		}
		b, err := os.ReadFile(filepath.Join(layerFiles(t, e, c), "layer.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal(b, &rec); err != nil || rec["delta"] != true || rec["content"] != false {
			t.Fatalf("layer %s's record %s", c, b)
		}
	}
	if len(w.Calls()) != 2 {
		t.Fatalf("RootFS wrote layers again: %+v", w.Calls())
	}

	again := e.openWith(t, w, testCapacity)
	if got := again.Layers(); len(got) != 2 || got[top] != base {
		t.Fatalf("after reopen %v", got)
	}
	if _, err := again.Pull(ctx, twoRef, storage.PullOptions{}); err != nil || len(w.Calls()) != 2 {
		t.Fatalf("a pull of what is there wrote %+v (%v)", w.Calls(), err)
	}
	if _, err := again.Writable(ctx, "c1", two.ID); err != nil {
		t.Fatal(err)
	}
	if p, err := again.WritableParent("c1"); err != nil || p != again.LayerDisk(top) {
		t.Fatalf("writable parent %q %v", p, err)
	}
	for _, id := range []string{two.ID, bb.ID} {
		if err := again.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := again.Layers(); len(got) != 2 {
		t.Fatalf("the writable layer's chain went: %v", got)
	}
	if err := again.RemoveWritable(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if got := again.Layers(); len(got) != 0 {
		t.Fatalf("layers left %v", got)
	}
	for _, c := range []string{base, top} {
		if _, err := os.Stat(layerFiles(t, e, c)); !os.IsNotExist(err) {
			t.Fatalf("layer folder %s left: %v", c, err)
		}
	}
}

// TestDeltaWriteFails: a layer whose write fails leaves no record and no
// folder, the layers under it stay, and the pull fails; the next pull
// writes only that layer.
func TestDeltaWriteFails(t *testing.T) {
	ctx := context.Background()
	e, w, s := newDeltaStore(t)
	_, bbRef, twoRef := pushTwo(t)
	bb, err := s.Pull(ctx, bbRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	two, err := e.staging.Pull(ctx, twoRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	top := vsstorage.ChainIDs(two)[1]
	w.failOn = top
	if _, err := s.Pull(ctx, twoRef, storage.PullOptions{}); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("pull with a failing write: %v", err)
	}
	if got := s.Layers(); len(got) != 1 || got[vsstorage.ChainIDs(bb)[0]] != "" {
		t.Fatalf("layers after the failure %v", got)
	}
	if _, err := os.Stat(layerFiles(t, e, top)); !os.IsNotExist(err) {
		t.Fatalf("the failed layer's folder: %v", err)
	}
	w.failOn = ""
	if _, err := s.Pull(ctx, twoRef, storage.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if calls := w.Calls(); len(calls) != 2 || calls[1].Disk != s.LayerDisk(top) {
		t.Fatalf("writes %+v", calls)
	}
}

// TestFlatLayerBecomesDelta: a layer written without a Writer (the
// flattened root filesystem) is remade as a delta layer by a store with
// one, unless a writable layer is its child: then the image is refused
// (FailedPrecondition) until that container goes.
func TestFlatLayerBecomesDelta(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	flat := e.open(t)
	_, bbRef, _ := pushTwo(t)
	bb, err := flat.Pull(ctx, bbRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flat.Writable(ctx, "c1", bb.ID); err != nil {
		t.Fatal(err)
	}
	w := newTreeWriter(t, e.sess)
	s := e.openWith(t, w, testCapacity)
	if _, err := s.RootFS(ctx, bb.ID); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("a flat layer under a writable layer: %v", err)
	}
	if err := s.RemoveWritable(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RootFS(ctx, bb.ID); err != nil {
		t.Fatal(err)
	}
	base := vsstorage.ChainIDs(bb)[0]
	if calls := w.Calls(); len(calls) != 1 || calls[0].Disk != s.LayerDisk(base) {
		t.Fatalf("writes %+v", calls)
	}
	if st, err := os.Stat(filepath.Join(layerFiles(t, e, base), base+"-flat.vmdk")); err != nil || st.Size() != 0 {
		t.Fatalf("the remade layer's flat extent %v %v", st, err)
	}
}

// TestDeltaCommit: with a Writer, docker commit's layer is one child disk
// of the parent image's top layer, holding only the commit's diff;
// removing the committed image frees it and keeps the parent's.
func TestDeltaCommit(t *testing.T) {
	ctx := context.Background()
	_, w, s := newDeltaStore(t)
	_, bbRef, _ := pushTwo(t)
	parent, err := s.Pull(ctx, bbRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := commitOver(t, s, parent)
	chains := vsstorage.ChainIDs(img)
	calls := w.Calls()
	if len(calls) != 2 || calls[1].Disk != s.LayerDisk(chains[1]) || calls[1].Parent != s.LayerDisk(chains[0]) {
		t.Fatalf("writes %+v", calls)
	}
	if want := []string{"+root/added", "-etc/group"}; fmt.Sprint(calls[1].Diff) != fmt.Sprint(want) {
		t.Fatalf("the commit's diff %v, want %v", calls[1].Diff, want)
	}
	if got := s.Layers(); len(got) != 2 || got[chains[1]] != chains[0] {
		t.Fatalf("layers %v", got)
	}
	if err := s.Remove(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.Layers(); len(got) != 1 || got[chains[0]] != "" {
		t.Fatalf("layers after removing the committed image: %v", got)
	}
}
