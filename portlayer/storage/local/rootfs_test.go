package local

import (
	"context"
	"os"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// A root filesystem disk that a crash left torn (no seal: renamed before
// it was sealed, or cut short) or whose bytes no longer match its seal is
// rebuilt, never handed to a container.
func TestRootFSDiskCrash(t *testing.T) {
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	if _, err := fixture.PushBusybox(ctx, reg.Addr, "busybox", "latest"); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s, err := New(root, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := s.RootFS(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDisk(disk); err != nil {
		t.Fatalf("fresh disk: %v", err)
	}
	good, err := hashFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		crash func(t *testing.T)
	}{
		{"renamed before sealed, content lost", func(t *testing.T) {
			// What an unsynced rename becomes after a power cut: the
			// name with a short file, and no seal yet.
			if err := os.Remove(disk + sealSuffix); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(disk, 4096); err != nil {
				t.Fatal(err)
			}
		}},
		{"bytes changed, length kept", func(t *testing.T) {
			f, err := os.OpenFile(disk, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("garbage"), 2048); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.crash(t)
			s2, err := New(root, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			again, err := s2.RootFS(ctx, img.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := hashFile(again)
			if err != nil {
				t.Fatal(err)
			}
			if got.length != good.length {
				t.Fatalf("rebuilt disk has %d bytes, want %d", got.length, good.length)
			}
			if err := checkDisk(again); err != nil {
				t.Fatalf("rebuilt disk: %v", err)
			}
			if s2.checked(chainID(img.Layers)) != true {
				t.Fatal("rebuilt disk not marked verified")
			}
		})
	}
}
