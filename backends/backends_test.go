package backends

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/backends/internal/fakestore"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	imagerouter "github.com/vchproject/vch/daemon/router/image"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute/fake"
)

// TestRestart: tags, names and the engine ID survive a new Backends over
// the same state directory and port layer.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	pl := fake.New()
	t.Cleanup(func() {
		if err := pl.Close(); err != nil {
			t.Error(err)
		}
	})
	store := fakestore.New()
	img := fakestore.Image(map[string]any{"os": "linux", "config": map[string]any{"Cmd": []string{"sh"}}}, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	store.Remote("127.0.0.1:5000/busybox:latest", img)
	cfg := Config{Name: "vch1", Root: root, Compute: pl, Images: store, Version: "0.1.0"}

	b1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := b1.Images().PullImage(ctx, imagerouter.PullConfig{Image: "127.0.0.1:5000/busybox", Tag: "latest", Output: &out}); err != nil {
		t.Fatal(err)
	}
	resp, err := b1.Containers().ContainerCreate(ctx, containerrouter.CreateConfig{Name: "web", Config: &container.Config{Image: "127.0.0.1:5000/busybox"}})
	if err != nil {
		t.Fatal(err)
	}
	info1, err := b1.System().SystemInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b1.Close()

	b2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	ins, err := b2.Containers().ContainerInspect(ctx, "web", false)
	if err != nil || ins.ID != resp.ID || ins.Config.Cmd[0] != "sh" {
		t.Fatalf("after restart: %+v %v", ins, err)
	}
	imgs, err := b2.Images().Images(ctx, false, filters.NewArgs())
	if err != nil || len(imgs) != 1 || len(imgs[0].RepoTags) != 1 || imgs[0].RepoTags[0] != "127.0.0.1:5000/busybox:latest" || imgs[0].Containers != 1 {
		t.Fatalf("images after restart: %+v %v", imgs, err)
	}
	info2, err := b2.System().SystemInfo(ctx)
	if err != nil || info2.ID == "" || info2.ID != info1.ID || info2.Name != "vch1" || info2.Containers != 1 {
		t.Fatalf("info after restart: %+v %v", info2, err)
	}
	if _, err := b2.Containers().ContainerCreate(ctx, containerrouter.CreateConfig{Name: "web", Config: &container.Config{Image: "127.0.0.1:5000/busybox"}}); !errdefs.IsConflict(err) {
		t.Fatalf("name free after restart: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without port layer succeeded")
	}
	if _, err := New(Config{Compute: fake.New(), Images: fakestore.New()}); err == nil {
		t.Fatal("New without Root succeeded")
	}
}

// TestLoadEngineID: the ID is made once and read back; an empty file (a
// power-off between the file's creation and its write, before the ID
// was written whole) gets a new ID rather than an empty one.
func TestLoadEngineID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine-id")
	id, err := loadEngineID(path)
	if err != nil || len(id) != 36 {
		t.Fatalf("first loadEngineID: %q, %v", id, err)
	}
	if again, err := loadEngineID(path); err != nil || again != id {
		t.Errorf("second loadEngineID: %q, %v, want %q", again, err, id)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, err := loadEngineID(path)
	if err != nil || len(fresh) != 36 {
		t.Fatalf("loadEngineID over an empty file: %q, %v", fresh, err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != fresh+"\n" {
		t.Errorf("the file after it: %q, %v", b, err)
	}
}
