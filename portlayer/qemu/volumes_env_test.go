package qemu

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/volume/local"
)

// suiteVolume is the volume computetest.WithVolume names.
const suiteVolume = "suite-vol"

// suiteVolumes is a local volume store beside root holding suiteVolume
// (made once per root: restarts reopen it).
func suiteVolumes(t *testing.T, root string) volume.Attacher {
	t.Helper()
	store := filepath.Join(root, "volume-store")
	p, err := local.New([]volume.Store{{Label: volume.DefaultStore, Path: store}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The shared volume is mounted on the host from its first attach.
	t.Cleanup(func() {
		if err := local.Unmount(store); err != nil {
			t.Error(err)
		}
	})
	_, err = p.Create(context.Background(), volume.CreateOptions{Name: suiteVolume, Capacity: 16 << 20})
	if err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatal(err)
	}
	return p
}
