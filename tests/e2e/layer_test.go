package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The writable layer's cap comes from vic-machine --base-image-size and
// holds inside the container (ENOSPC past it).
func TestBaseImageSizeEnforced(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() { vicMachine("delete", "--name", "e2e-small", "--force") })
	out, err := vicMachine("create", "--name", "e2e-small", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--container-memory", "256M", "--base-image-size", "64M")
	if err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}
	ex := parseExports(out)
	if r := dockerWith(t, ex, "", "pull", env.busybox); r.Exit != 0 {
		t.Fatalf("pull: %s", r)
	}
	r := dockerWith(t, ex, "", "run", "--rm", env.busybox, "dd", "if=/dev/zero", "of=/big", "bs=1M", "count=128")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "No space left on device") {
		t.Fatalf("writing 128 MB into a 64 MB layer: %s", r)
	}
	r = dockerWith(t, ex, "", "run", "--rm", env.busybox, "sh", "-c", "dd if=/dev/zero of=/ok bs=1M count=16 2>/dev/null && echo fits")
	if r.Exit != 0 || r.Stdout != "fits\n" {
		t.Fatalf("16 MB into a 64 MB layer: %s", r)
	}
}

// A fresh 8 GB writable layer (the default) stays small on the host: the
// guest kernel does not zero-fill its inode tables after the first mount.
func TestFreshLayerStaysSmall(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	// Long enough for ext4's lazy init thread to have zeroed a good part
	// of the tables if they needed it (it starts right after the mount).
	mustDocker(t, "run", "--name", name, img, "sh", "-c", "sleep 20; sync")
	defer docker(t, "rm", "-f", name)
	id := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.Id}}", name))
	disk := filepath.Join(env.vchRoot, "containers", id, "rw.ext4")
	var st syscall.Stat_t
	poll(t, "the layer's disk", func() bool { return syscall.Stat(disk, &st) == nil })
	if st.Size != 8<<30 {
		t.Fatalf("layer %s is %d bytes, want 8 GB", disk, st.Size)
	}
	if used := st.Blocks * 512; used > 32<<20 {
		t.Fatalf("a fresh 8 GB layer uses %d MB on the host after one run (inode tables zero-filled?)", used>>20)
	}
}
