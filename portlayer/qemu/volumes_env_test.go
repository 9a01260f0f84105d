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
	p, err := local.New([]volume.Store{{Label: volume.DefaultStore, Path: filepath.Join(root, "volume-store")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Create(context.Background(), volume.CreateOptions{Name: suiteVolume, Capacity: 16 << 20})
	if err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatal(err)
	}
	return p
}
