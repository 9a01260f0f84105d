package backed

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/portlayer/compute"
)

// TestStoppedSizesAndLayer: a container that ended is measured (docker
// ps -s, SizeRw) and its writable layer read (docker commit) through a
// maintenance boot of its VM: the size counts the file the run wrote,
// the layer holds it and a whiteout for the file it deleted, the hidden
// /etc files are not in it; the VM is off again and the container still
// exited with its code afterwards. The size is kept until docker cp
// into the container changes the layer.
func TestStoppedSizesAndLayer(t *testing.T) {
	p, sim := tetherVCH(t, "stopped")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	id := strings.Repeat("5e", 32)
	const big = 100000
	if err := p.Create(ctx, compute.Spec{ID: id, Name: "stopped-sizes", Image: "sha256:00", Process: compute.Process{
		Args: []string{"sh", "-c", "head -c " + strconv.Itoa(big) + " /dev/zero > /big && mkdir /made && echo hi > /made/f && rm /etc/group && exit 3"}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(ctx, id, compute.WaitNotRunning); err != nil || st.ExitCode != 3 {
		t.Fatalf("run: %+v %v, want exit 3", st, err)
	}
	// After each maintenance boot: the VM off, the container as it was.
	asBefore := func(what string) {
		t.Helper()
		c, err := p.Inspect(ctx, id)
		if err != nil || c.Status.State != compute.StateExited || c.Status.ExitCode != 3 {
			t.Fatalf("after %s: %+v %v, want exited 3", what, c.Status, err)
		}
		vm, err := sim.Session(t).Finder.VirtualMachine(ctx, "stopped-sizes")
		if err != nil {
			t.Fatal(err)
		}
		if pw, err := vm.PowerState(ctx); err != nil || pw != types.VirtualMachinePowerStatePoweredOff {
			t.Fatalf("the VM after %s: %s %v, want off", what, pw, err)
		}
	}

	sz, err := p.Sizes(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if sz.RW < big || sz.RW > big+4096 {
		t.Fatalf("SizeRw of the stopped container %d, want %d and a little (/made/f, the /etc files)", sz.RW, big)
	}
	asBefore("sizes")
	if again, err := p.Sizes(ctx, id); err != nil || again != sz {
		t.Fatalf("sizes asked again: %+v %v, want the kept %+v", again, err, sz)
	}

	var layer bytes.Buffer
	if err := p.ArchiveLayer(ctx, id, false, &layer); err != nil {
		t.Fatal(err)
	}
	asBefore("reading the layer")
	entries := map[string]int64{}
	tr := tar.NewReader(&layer)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = h.Size
	}
	for name, size := range map[string]int64{"big": big, "made/": 0, "made/f": 3, "etc/.wh.group": 0} {
		if got, ok := entries[name]; !ok || got != size {
			t.Errorf("layer entry %s: size %d (present %v), want %d; entries %v", name, got, ok, size, entries)
		}
	}
	for _, name := range []string{"etc/hosts", "etc/hostname", "etc/resolv.conf", ".vch-baseline", "etc/passwd", "tether"} {
		if _, ok := entries[name]; ok {
			t.Errorf("layer has %s: %v", name, entries)
		}
	}

	// docker cp into it: the kept size goes, the next one counts the file.
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	if err := tw.WriteHeader(&tar.Header{Name: "more", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5000}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.ArchivePut(ctx, id, "/", &in, compute.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if after, err := p.Sizes(ctx, id); err != nil || after.RW != sz.RW+5000 {
		t.Fatalf("sizes after cp of 5000 bytes: %+v %v, want %d", after, err, sz.RW+5000)
	}
	asBefore("cp and sizes")
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
}
