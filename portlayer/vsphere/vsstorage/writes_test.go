package vsstorage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/vsphere/vsstorage"
)

// TestStoreAnswersDuringAWrite: while the Writer writes a layer, the
// store goes on answering: its layers, a container's writable layer on an
// image already written, and that layer's removal.
func TestStoreAnswersDuringAWrite(t *testing.T) {
	ctx := context.Background()
	_, w, s := newDeltaStore(t)
	_, bbRef, twoRef := pushTwo(t)
	bb, err := s.Pull(ctx, bbRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.hold, w.entered = make(chan struct{}), make(chan struct{})
	pulled := make(chan error, 1)
	go func() {
		_, err := s.Pull(ctx, twoRef, storage.PullOptions{})
		pulled <- err
	}()
	awaitWrite(t, w.entered, pulled)
	answered := make(chan error, 1)
	go func() {
		answered <- func() error {
			if got := s.Layers(); len(got) != 1 {
				return fmt.Errorf("layers during the write: %v", got)
			}
			if _, err := s.Writable(ctx, "c1", bb.ID); err != nil {
				return err
			}
			p, err := s.WritableParent("c1")
			if err != nil || p != s.LayerDisk(vsstorage.ChainIDs(bb)[0]) {
				return fmt.Errorf("writable parent %q: %v", p, err)
			}
			return s.RemoveWritable(ctx, "c1")
		}()
	}()
	select {
	case err := <-answered:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(time.Minute): // a hang, not a timing check
		t.Error("the store did not answer while a layer was written")
	}
	close(w.hold)
	if err := <-pulled; err != nil {
		t.Fatal(err)
	}
	if got := s.Layers(); len(got) != 2 {
		t.Fatalf("layers after the write: %v", got)
	}
}

// TestRemoveDuringAWrite: an image removed (docker rmi) while its layers
// are written keeps every layer the write needs until it ends: the chain
// on the datastore stays whole (no layer recorded over a removed
// parent), and the next collection takes the layers together.
func TestRemoveDuringAWrite(t *testing.T) {
	ctx := context.Background()
	e, w, s := newDeltaStore(t)
	_, _, twoRef := pushTwo(t)
	two, err := e.staging.Pull(ctx, twoRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	chains := vsstorage.ChainIDs(two)
	w.holdOn = chains[1]
	w.hold, w.entered = make(chan struct{}), make(chan struct{})
	pulled := make(chan error, 1)
	go func() {
		_, err := s.Pull(ctx, twoRef, storage.PullOptions{})
		pulled <- err
	}()
	awaitWrite(t, w.entered, pulled) // the base layer is written, the top one filled, not yet recorded
	removed := make(chan error, 1)
	go func() { removed <- s.Remove(ctx, two.ID) }()
	select {
	case err := <-removed:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(time.Minute): // a hang, not a timing check
		close(w.hold)
		t.Fatal("docker rmi waited for the layer write")
	}
	if got := s.Layers(); len(got) != 1 || got[chains[0]] != "" {
		t.Errorf("while the top layer is written, layers %v: want the base kept", got)
	}
	close(w.hold)
	if err := <-pulled; err != nil {
		t.Fatal(err)
	}
	if got := s.Layers(); len(got) != 2 || got[chains[1]] != chains[0] {
		t.Fatalf("after the write, layers %v: want the whole chain", got)
	}
	again := e.openWith(t, w, testCapacity) // nothing references them now
	if got := again.Layers(); len(got) != 2 {
		// The staging store lists no image: the open keeps them.
		t.Fatalf("reopen: %v", got)
	}
	bb, err := e.staging.Pull(ctx, strings.Replace(twoRef, "/two:", "/busybox:", 1), storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Remove(ctx, bb.ID); err != nil {
		t.Fatal(err)
	}
	if got := again.Layers(); len(got) != 0 {
		t.Fatalf("after the last image went, layers %v", got)
	}
}

// awaitWrite waits until the Writer's hook is entered; a pull that ended
// before it got there fails the test instead of leaving it waiting.
func awaitWrite(t *testing.T, entered <-chan struct{}, pulled chan error) {
	t.Helper()
	select {
	case <-entered:
	case err := <-pulled:
		pulled <- err
		t.Fatalf("the pull ended before its layer write: %v", err)
	}
}

// progressLog records, per layer line, docker's statuses in order
// (repeats folded) and how many layers the Writer had written when each
// came.
type progressLog struct {
	w     *treeWriter
	mu    sync.Mutex
	lines map[string][]string // ID → "status@writes"
}

func (p *progressLog) report(sp storage.Progress) {
	if sp.ID == "" {
		return
	}
	n := len(p.w.Calls())
	p.mu.Lock()
	defer p.mu.Unlock()
	e := fmt.Sprintf("%s@%d", sp.Status, n)
	if l := p.lines[sp.ID]; len(l) == 0 || l[len(l)-1] != e {
		p.lines[sp.ID] = append(l, e)
	}
}

func (p *progressLog) pull(t *testing.T, s *vsstorage.Store, ref string) storage.Image {
	t.Helper()
	p.lines = map[string][]string{}
	img, err := s.Pull(context.Background(), ref, storage.PullOptions{Progress: p.report})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func short(l storage.Layer) string { return strings.TrimPrefix(l.Digest, "sha256:")[:12] }

// TestDeltaPullProgress: with a Writer, a new layer's "Extracting" and
// "Pull complete" are its disk's write (the staging store's check of the
// layer does not say them): "Pull complete" comes once the disk is
// written. A layer already there says "Already exists" only, and a pull
// of an image that is up to date shows no layer lines, as docker's.
func TestDeltaPullProgress(t *testing.T) {
	_, w, s := newDeltaStore(t)
	_, bbRef, twoRef := pushTwo(t)
	p := &progressLog{w: w}

	bb := p.pull(t, s, bbRef)
	got := p.lines[short(bb.Layers[0])]
	if n := len(got); n < 3 || got[0] != "Pulling fs layer@0" || got[n-2] != "Extracting@0" || got[n-1] != "Pull complete@1" {
		t.Fatalf("busybox's layer: %q", got)
	}
	if slices.Contains(got[:len(got)-2], "Extracting@0") {
		t.Fatalf("busybox's layer said Extracting before its write: %q", got)
	}

	two := p.pull(t, s, twoRef)
	if got := p.lines[short(two.Layers[0])]; !slices.Equal(got, []string{"Already exists@1"}) {
		t.Fatalf("the shared layer: %q", got)
	}
	got = p.lines[short(two.Layers[1])]
	if n := len(got); n < 3 || got[n-2] != "Extracting@1" || got[n-1] != "Pull complete@2" {
		t.Fatalf("the second image's layer: %q", got)
	}

	p.pull(t, s, twoRef)
	if len(p.lines) != 0 {
		t.Fatalf("a pull that is up to date showed layer lines: %q", p.lines)
	}
}
