package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
)

// TestVSphereStoppedSizesAndCommit: on a vSphere VCH with docker-backed
// container VMs (as TestVSphereContainerRun), a container that ended is
// measured (inspect --size, ps -s) and committed through maintenance
// boots of its VM, after which it is still exited with its code and its
// VM off; the committed image has one more layer, which is a VMDK on the
// image datastore holding the image's root filesystem with the run's file
// and without the file it deleted (read with debugfs from the
// simulator's datastore directory); docker run of the committed image
// runs on a VM whose writable disk is a child of that layer.
func TestVSphereStoppedSizesAndCommit(t *testing.T) {
	d := vsimtest.StartDockerd(t)
	vsimtest.TetherImage(t, d, "vch-tether:e2e", filepath.Join(env.repo, "bin", "tether"))
	v := startVSphereVCH(t, vsphereOptions{
		name: "vch-vsp-commit", serial: "127.0.0.1:" + strconv.Itoa(freePortOrFail(t)),
		simBacking: []string{"vch-tether:e2e", "/tether"},
	})
	ctx := context.Background()
	v.must(t, "pull", env.busybox)
	const big = 200000
	r, err := v.docker("", "run", "--name", "made", env.busybox, "sh", "-c",
		"head -c "+strconv.Itoa(big)+" /dev/zero > /big && echo committed > /hi.txt && rm /etc/group && exit 4")
	if err != nil || r.Exit != 4 {
		t.Fatalf("run: %v %s", err, r)
	}
	vmOff := func(what string) {
		t.Helper()
		vm, err := v.finder.VirtualMachine(ctx, v.name+"-made")
		if err != nil {
			t.Fatal(err)
		}
		if pw, err := vm.PowerState(ctx); err != nil || pw != types.VirtualMachinePowerStatePoweredOff {
			t.Errorf("the VM after %s: %s %v, want poweredOff", what, pw, err)
		}
		if got := v.must(t, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "made"); got != "exited 4" {
			t.Errorf("after %s: %q, want exited 4", what, got)
		}
	}

	// Sizes of the stopped container (were 0).
	rw, err := strconv.ParseInt(v.must(t, "inspect", "--size", "--format", "{{.SizeRw}}", "made"), 10, 64)
	if err != nil || rw < big || rw > big+4096 {
		t.Errorf("SizeRw %d (%v), want %d and a little", rw, err, big)
	}
	vmOff("inspect --size")
	if got := v.must(t, "ps", "-a", "-s", "--filter", "name=made", "--format", "{{.Size}}"); !strings.HasPrefix(got, "200kB") && !strings.HasPrefix(got, "201kB") {
		t.Errorf("ps -s: %q, want about 200kB", got)
	}

	// docker commit, then the image's layers.
	id := v.must(t, "commit", "made", "vsp/made:v1")
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q", id)
	}
	vmOff("commit")
	layers := strings.Fields(v.must(t, "image", "inspect", "--format", "{{range .RootFS.Layers}}{{.}} {{end}}", "vsp/made:v1"))
	base := strings.Fields(v.must(t, "image", "inspect", "--format", "{{range .RootFS.Layers}}{{.}} {{end}}", env.busybox))
	if len(layers) != len(base)+1 || strings.Join(layers[:len(base)], " ") != strings.Join(base, " ") {
		t.Fatalf("committed layers %v, busybox's %v", layers, base)
	}
	// The new layer's disk on the image datastore (its folder is the
	// chain ID; the simulator keeps the flat extent as a host file).
	chain := chainID(layers)
	imageDS, err := v.finder.Datastore(ctx, v.kv["guestinfo.vice.storage.image.datastore"])
	if err != nil {
		t.Fatal(err)
	}
	var ds mo.Datastore
	if err := imageDS.Properties(ctx, imageDS.Reference(), []string{"summary"}, &ds); err != nil {
		t.Fatal(err)
	}
	folder := v.kv["guestinfo.vice.storage.image.path"] + "/" + chain
	if _, err := imageDS.Stat(ctx, folder+"/"+chain+".vmdk"); err != nil {
		t.Fatalf("the committed layer's disk: %v", err)
	}
	flat := filepath.Join(strings.TrimPrefix(ds.Summary.Url, "ds://"), folder, chain+"-flat.vmdk")
	if out, err := exec.Command("debugfs", "-R", "cat /hi.txt", flat).Output(); err != nil || string(out) != "committed\n" {
		t.Errorf("/hi.txt in the committed layer: %q %v", out, err)
	}
	if out, err := exec.Command("debugfs", "-R", "ls -l /etc", flat).Output(); err != nil || strings.Contains(string(out), " group") || !strings.Contains(string(out), "passwd") {
		t.Errorf("/etc in the committed layer (group deleted, passwd kept): %q %v", out, err)
	}

	// docker run of the committed image.
	if r, err := v.docker("", "run", "--name", "again", "vsp/made:v1", "sh", "-c", "echo ran; exit 0"); err != nil || r.Exit != 0 || r.Stdout != "ran\n" {
		t.Errorf("run of the committed image: %v %s", err, r)
	}
	if got := v.must(t, "inspect", "--format", "{{.Image}}", "again"); got != id {
		t.Errorf("the container's image %q, want %q", got, id)
	}
	vm, err := v.finder.VirtualMachine(ctx, v.name+"-again")
	if err != nil {
		t.Fatal(err)
	}
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	parents := []string{}
	for _, dev := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		if b, ok := dev.(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && b.Parent != nil {
			parents = append(parents, b.Parent.FileName)
		}
	}
	if len(parents) != 1 || !strings.HasSuffix(parents[0], "/"+chain+"/"+chain+".vmdk") {
		t.Errorf("the writable disk's parent %v, want the committed layer %s", parents, chain)
	}
	v.must(t, "rm", "made", "again")
	v.must(t, "rmi", "vsp/made:v1")
	if _, err := imageDS.Stat(ctx, folder+"/"+chain+".vmdk"); err == nil {
		t.Errorf("the committed layer's disk outlived docker rmi")
	}
}

// chainID is the OCI chain ID (hex) of the top of diff IDs.
func chainID(diffIDs []string) string {
	chain := diffIDs[0]
	for _, d := range diffIDs[1:] {
		sum := sha256.Sum256([]byte(chain + " " + d))
		chain = "sha256:" + hex.EncodeToString(sum[:])
	}
	return strings.TrimPrefix(chain, "sha256:")
}
