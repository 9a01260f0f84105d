package local

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// A committed image is the parent's layers plus the new one: its config
// lists the diff IDs, it gets a root filesystem disk, and it pushes to a
// registry and pulls back with the same ID.
func TestCommitPushPull(t *testing.T) {
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	if _, err := fixture.PushBusybox(ctx, reg.Addr, "busybox", "latest"); err != nil {
		t.Fatal(err)
	}
	s, err := New(t.TempDir(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	parent, err := s.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "root/", Typeflag: tar.TypeDir, Mode: 0o700})
	tw.WriteHeader(&tar.Header{Name: "root/added", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	tw.Write([]byte("new"))
	tw.WriteHeader(&tar.Header{Name: "etc/.wh.group", Typeflag: tar.TypeReg})
	tw.Close()
	var gotDiff string
	img, err := s.Commit(ctx, storage.CommitOptions{Parent: parent.ID, Layer: &layer, Config: func(diffID string) ([]byte, error) {
		gotDiff = diffID
		var c ocispec.Image
		json.Unmarshal(parent.Config, &c)
		c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, ocispecDigest(diffID))
		c.Author = "test"
		return json.Marshal(c)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if img.Parent != parent.ID || len(img.Layers) != len(parent.Layers)+1 || img.Layers[len(img.Layers)-1].DiffID != gotDiff || img.Size <= 0 {
		t.Fatalf("committed %+v", img)
	}
	if _, err := s.RootFS(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr + "/committed:v1"
	if _, err := s.Push(ctx, ref, img.ID, storage.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	other, err := New(t.TempDir(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	back, err := other.Pull(ctx, ref, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != img.ID || len(back.Layers) != len(img.Layers) || !strings.Contains(string(back.Config), `"author":"test"`) {
		t.Fatalf("pulled back %+v", back)
	}
	if _, err := other.RootFS(ctx, back.ID); err != nil {
		t.Fatal(err)
	}
}

func ocispecDigest(s string) digest.Digest { return digest.Digest(s) }
