package vsimtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TetherImage imports image name into d: the static tether binary at
// tether as /tether (the backing container's entrypoint: PID 1, as in a
// container VM), busybox with its applets in /bin, an /etc/passwd and
// /etc/group with root and nobody, and /tmp. The docker-backed VM's file
// system is then the container root, the tether its PID 1.
func TetherImage(t *testing.T, d *Dockerd, name, tether string) {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is needed for the backing image: %v", err)
	}
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	group := filepath.Join(dir, "group")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(group, []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" {
			links["/bin/"+applet] = "busybox"
		}
	}
	keep := filepath.Join(dir, "keep")
	if err := os.WriteFile(keep, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// /tmp exists in every image (the suite's exec workdir).
	d.Import(t, name, map[string]string{tether: "/tether", busybox: "/bin/busybox", passwd: "/etc/passwd", group: "/etc/group", keep: "/tmp/.keep"}, links)
}
