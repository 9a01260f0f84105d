package vsstorage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/vsphere/vsstorage"
)

// TestCommit: docker commit's image (the parent's layers plus a layer
// with an added file and a whiteout) is stored: the new layer is a folder
// on the datastore whose parent is the parent image's top layer, and its
// disk holds the image's root filesystem with the file added and the
// whited-out one gone (read with debugfs from the simulator's host file).
func TestCommit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.open(t)
	_, bbRef, _ := pushTwo(t)
	parent, err := s.Pull(ctx, bbRef, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := commitOver(t, s, parent)
	chains := vsstorage.ChainIDs(img)
	parentTop := vsstorage.ChainIDs(parent)[0]
	if len(chains) != 2 || chains[0] != parentTop {
		t.Fatalf("committed chain %v, parent's %s", chains, parentTop)
	}
	if got := s.Layers()[chains[1]]; got != parentTop {
		t.Fatalf("the new layer's parent on the datastore %q, want %q", got, parentTop)
	}
	if got, err := s.Get(ctx, img.ID); err != nil || got.ID != img.ID {
		t.Fatalf("Get of the committed image: %+v %v", got, err)
	}
	root, err := s.RootFS(ctx, img.ID)
	if err != nil || root != s.LayerDisk(chains[1]) {
		t.Fatalf("RootFS %q %v, want %q", root, err, s.LayerDisk(chains[1]))
	}
	disk := hostPath(t, dsDir(t, e.sess), root)
	if out, err := exec.Command("debugfs", "-R", "cat /root/added", disk).Output(); err != nil || string(out) != "new" {
		t.Fatalf("/root/added on the layer disk: %q %v", out, err)
	}
	out, err := exec.Command("debugfs", "-R", "ls -l /etc", disk).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v: %s", err, out)
	}
	if ls := string(out); strings.Contains(ls, " group") || !strings.Contains(ls, "passwd") {
		t.Fatalf("/etc on the layer disk:\n%s", ls)
	}
	// Removing the committed image frees its own layer, not the parent's.
	if err := s.Remove(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.Layers(); len(got) != 1 || got[parentTop] != "" {
		t.Fatalf("layers after removing the committed image: %v", got)
	}
}

// commitOver commits, over the image parent, a layer that adds
// /root/added and whites out /etc/group.
func commitOver(t *testing.T, s *vsstorage.Store, parent storage.Image) storage.Image {
	t.Helper()
	ctx := context.Background()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, h := range []*tar.Header{
		{Name: "root/", Typeflag: tar.TypeDir, Mode: 0o700},
		{Name: "root/added", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "etc/.wh.group", Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	img, err := s.Commit(ctx, storage.CommitOptions{Parent: parent.ID, Layer: &layer, Config: func(diffID string) ([]byte, error) {
		var c ocispec.Image
		if err := json.Unmarshal(parent.Config, &c); err != nil {
			return nil, err
		}
		c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, digest.Digest(diffID))
		return json.Marshal(c)
	}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}
