package vsvolume_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vmware/govmomi/object"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/volume/volumetest"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/portlayer/vsphere/vsvolume"
)

// runs numbers the tests' folders: the simulator is shared by the whole
// test binary, -count=N rounds included, so a folder is never reused.
var runs atomic.Int64

// The suite's stores are host paths; each becomes a folder named after
// the subtest (and the round) and the store on the shared simulator's
// datastore.
func TestConformance(t *testing.T) {
	volumetest.Run(t, func(t *testing.T, stores []volume.Store) volumetest.Instance {
		sim := vsimtest.Shared(t)
		n := runs.Add(1)
		var ds []volume.Store
		for _, s := range stores {
			ds = append(ds, volume.Store{Label: s.Label, Path: fmt.Sprintf("[LocalDS_0] vch/%s-%d/%s", strings.ReplaceAll(t.Name(), "/", "-"), n, filepath.Base(s.Path))})
		}
		open := func() volume.Provider {
			p, err := vsvolume.New(context.Background(), sim.Session(t), ds, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		return volumetest.Instance{Provider: open(), Reopen: open, DiskVolumes: true}
	})
}

// A folder without a record (a create interrupted before the record was
// written) is deleted on open; a volume's VMDK is on the datastore.
func TestInterruptedCreateSwept(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	sess := sim.Session(t)
	dir := fmt.Sprintf("vch/swept-%d", runs.Add(1))
	stores := []volume.Store{{Label: volume.DefaultStore, Path: "[LocalDS_0] " + dir}}
	p, err := vsvolume.New(ctx, sess, stores, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "kept", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	disk, err := p.Disk(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if disk != "[LocalDS_0] "+dir+"/volumes/kept/kept.vmdk" {
		t.Fatalf("Disk = %q", disk)
	}
	ds, err := sess.Finder.Datastore(ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Stat(ctx, dir+"/volumes/kept/kept.vmdk"); err != nil {
		t.Fatalf("the volume's VMDK: %v", err)
	}
	if err := object.NewFileManager(sess.Client).MakeDirectory(ctx, "[LocalDS_0] "+dir+"/volumes/half", sess.Datacenter, false); err != nil {
		t.Fatal(err)
	}
	q, err := vsvolume.New(ctx, sess, stores, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	list, err := q.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "kept" {
		t.Fatalf("after reopen: %+v, want only kept", list)
	}
	if _, err := ds.Stat(ctx, dir+"/volumes/half"); err == nil {
		t.Fatal("the interrupted folder is still there")
	}
}
