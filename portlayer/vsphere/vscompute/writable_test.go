package vscompute_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/local"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/portlayer/vsphere/vsstorage"
	"github.com/vchproject/vch/tests/fixture"
)

// A container VM gets its writable layer as a persistent disk whose
// parent is the image's top layer VMDK; rm deletes the writable layer and
// a failed create leaves none.
func TestWritableLayerDisk(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	sess := sim.Session(t)
	staging, err := local.New(t.TempDir(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	images, err := vsstorage.New(ctx, vsstorage.Config{Session: sess, Folder: "[LocalDS_0] vsart-rw/VIC/x/images", Staging: staging, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	reg := fixture.StartRegistry(t)
	bb, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.Push(ctx, reg.Addr, "busybox", "latest", bb); err != nil {
		t.Fatal(err)
	}
	img, err := images.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := vscompute.New(vscompute.Config{Session: sess, VCH: "vsartrw", Datastore: "LocalDS_0", Layers: images,
		BootISO: "[LocalDS_0] vsart-rw/bootstrap.iso", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	id := hexID('7')
	s := compute.Spec{ID: id, Name: "vsart-rw", Image: img.ID, Process: compute.Process{Args: []string{"sh"}}}
	if err := p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	disk, parent, err := p.WritableDisk(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := images.RootFS(ctx, img.ID)
	if disk != "[LocalDS_0] vsart-rw/VIC/x/writable/"+id+"/"+id+".vmdk" || parent != top {
		t.Fatalf("writable disk %q parent %q, want the writable folder's and %q", disk, parent, top)
	}
	// The VM's create made the child disk in the writable layer's folder.
	ds, err := sess.Finder.Datastore(ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Stat(ctx, "vsart-rw/VIC/x/writable/"+id+"/"+id+".vmdk"); err != nil {
		t.Fatalf("the writable layer's disk: %v", err)
	}
	// The CD-ROM holds the bootstrap ISO.
	vm, err := sess.Finder.VirtualMachine(ctx, "vsart-rw")
	if err != nil {
		t.Fatal(err)
	}
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cds := devs.SelectByType((*types.VirtualCdrom)(nil))
	if len(cds) != 1 {
		t.Fatalf("%d CD-ROMs", len(cds))
	}
	if b, ok := cds[0].GetVirtualDevice().Backing.(*types.VirtualCdromIsoBackingInfo); !ok || b.FileName != "[LocalDS_0] vsart-rw/bootstrap.iso" {
		t.Fatalf("CD-ROM backing %#v", cds[0].GetVirtualDevice().Backing)
	}
	if err := staging.Remove(ctx, img.ID); err != nil { // rmi -f while the container exists
		t.Fatal(err)
	}
	if err := images.Remove(ctx, "sha256:"+strings.Repeat("0", 64)); !errdefs.IsNotFound(err) {
		t.Fatalf("remove unknown: %v", err)
	}
	if len(images.Layers()) != 1 {
		t.Fatalf("the image's layer went while a writable layer uses it: %v", images.Layers())
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := images.WritableParent(id); !errdefs.IsNotFound(err) {
		t.Fatalf("writable layer after rm: %v", err)
	}
	if len(images.Layers()) != 0 {
		t.Fatalf("layers left after the last user went: %v", images.Layers())
	}
	if _, err := ds.Stat(ctx, "vsart-rw/VIC/x/writable/"+id+"/"+id+".vmdk"); err == nil {
		t.Fatal("the writable layer's disk outlived rm")
	}
	// A create refused for its image leaves no writable layer.
	bad := s
	bad.ID, bad.Name, bad.Image = hexID('8'), "vsart-rw2", "sha256:"+strings.Repeat("1", 64)
	if err := p.Create(ctx, bad); !errdefs.IsNotFound(err) {
		t.Fatalf("create with an unknown image: %v", err)
	}
	if _, err := images.WritableParent(bad.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("writable layer of a failed create: %v", err)
	}
}
