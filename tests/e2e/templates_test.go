package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tplVCH is a VCH made with --vm-templates.
type tplVCH struct {
	name string
	root string // its state directory
	ex   map[string]string
}

func newTemplateVCH(t *testing.T) *tplVCH {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	v := &tplVCH{name: "e2e-tpl", root: filepath.Join(env.state, "e2e-tpl")}
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() { vicMachine("delete", "--name", v.name, "--force") })
	out, err := vicMachine("create", "--name", v.name, "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--container-memory", "256M", "--vm-templates")
	if err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		// What vchd said about templates and restores.
		logs, _ := filepath.Glob(filepath.Join(v.root, "*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "template") || strings.Contains(line, "restore") {
					t.Logf("%s: %s", filepath.Base(l), line)
				}
			}
		}
	})
	v.ex = parseExports(out)
	if r := dockerWith(t, v.ex, "", "pull", env.busybox); r.Exit != 0 {
		t.Fatalf("pull: %s", r)
	}
	return v
}

func (v *tplVCH) templateDir() string { return filepath.Join(v.root, "containers", "templates") }

// templates lists the complete templates (directories with a manifest).
func (v *tplVCH) templates() []string { return completeTemplates(v.root) }

// completeTemplates lists the complete templates of the VCH at root.
func completeTemplates(root string) []string {
	m, _ := filepath.Glob(filepath.Join(root, "containers", "templates", "*", "manifest.json"))
	var dirs []string
	for _, f := range m {
		if strings.HasPrefix(filepath.Base(filepath.Dir(f)), ".") {
			continue // a build not yet renamed into place
		}
		dirs = append(dirs, filepath.Dir(f))
	}
	return dirs
}

// awaitSettled waits until the VCH at root has saved the template of its
// default shape, which vchd builds in the background after it starts
// (templates are the default), and no other build is under way: until
// then the state directory changes by itself.
func awaitSettled(t *testing.T, root string) {
	t.Helper()
	poll(t, "the VCH's default template", func() bool {
		building, _ := filepath.Glob(filepath.Join(root, "containers", "templates", ".build-*"))
		return len(completeTemplates(root)) == 1 && len(building) == 0
	})
}

// awaitTemplates waits (generously: a build is one cold boot, on a
// shared machine) until n complete templates exist, and returns them.
func (v *tplVCH) awaitTemplates(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if d := v.templates(); len(d) == n {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("want %d templates under %s after 5 minutes, have %v", n, v.templateDir(), v.templates())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// restored reports whether the container's VM was restored from a
// template (its boot steps, in the port layer's status record, name the
// "restored" step).
func (v *tplVCH) restored(t *testing.T, name string) bool {
	t.Helper()
	id := strings.TrimSpace(dockerWith(t, v.ex, "", "inspect", "--format", "{{.Id}}", name).Stdout)
	b, err := os.ReadFile(filepath.Join(v.root, "containers", id, "status.json"))
	if err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
	var st struct {
		Boot []struct {
			Name string `json:"name"`
		} `json:"boot"`
	}
	if err := json.Unmarshal(b, &st); err != nil || len(st.Boot) == 0 {
		t.Fatalf("status of %s: no boot steps (%v): %s", name, err, b)
	}
	for _, s := range st.Boot {
		if s.Name == "restored" {
			return true
		}
	}
	return false
}

// probe prints 32 bytes of /dev/urandom in hex, the kernel's boot_id and
// the MAC of eth0 ("none" without one), then, on a network, pings the
// default gateway (the bridge's host address).
const probe = `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; echo; cat /proc/sys/kernel/random/boot_id
cat /sys/class/net/eth0/address 2>/dev/null || echo none
gw=$(ip route | awk '/^default/ {print $3}')
if [ -n "$gw" ]; then ping -c 1 -W 10 "$gw" >/dev/null && echo reached || echo unreachable; fi`

// run runs the probe in a container (extra: more docker run options) and
// returns its lines: randomness, boot_id, MAC[, gateway reached].
func (v *tplVCH) run(t *testing.T, name string, extra ...string) []string {
	t.Helper()
	args := append(append([]string{"run", "--name", name}, extra...), env.busybox, "sh", "-c", probe)
	r := dockerWith(t, v.ex, "", args...)
	lines := strings.Fields(r.Stdout)
	if r.Exit != 0 || len(lines) < 3 || len(lines[0]) != 64 || len(lines[1]) != 36 {
		t.Fatalf("run %s: %s", name, r)
	}
	return lines
}

// TestTemplateClones: with --vm-templates a VCH makes the template of its
// default shape (on a network: NIC slots) ahead of time, and `docker run`
// restores clones of it. Ten clones of the one template read ten distinct
// /dev/urandom values and ten distinct boot_ids (the tether reseeds the
// kernel's CRNG from host entropy before the process starts), each has
// its own MAC (the one docker inspect shows) and reaches its gateway. A
// container without networks gets a template of its own shape. A corrupt
// template is discarded, the container still starts (cold), a new
// template is built, and deleting the VCH removes the templates.
func TestTemplateClones(t *testing.T) {
	v := newTemplateVCH(t)
	v.awaitTemplates(t, 1)

	seen := map[string]string{}
	var cloneRuns []time.Duration // for the log only: no timed assertions
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("%s-%d", uniqueName(t), i)
		began := time.Now()
		lines := v.run(t, name)
		cloneRuns = append(cloneRuns, time.Since(began))
		if !v.restored(t, name) {
			t.Fatalf("clone %d: the container was cold-booted, not restored from %v", i, v.templates())
		}
		// The NIC carries the MAC its network gave it, not the
		// template's (02:76:63:68:…), and works.
		if len(lines) != 4 || !strings.HasPrefix(lines[2], "02:42:") || lines[3] != "reached" {
			t.Fatalf("clone %d: MAC and gateway %q, want the network's 02:42:… MAC and reached", i, lines[2:])
		}
		dockerWith(t, v.ex, "", "rm", name)
		for j, val := range lines[:2] {
			what := []string{"urandom", "boot_id"}[j]
			if prev, dup := seen[val]; dup {
				t.Fatalf("clone %d repeats the %s of %s: %s", i, what, prev, val)
			}
			seen[val] = fmt.Sprintf("clone %d's %s", i, what)
		}
	}

	slices.Sort(cloneRuns)
	t.Logf("docker run of the probe, 10 clones: median %v, max %v", cloneRuns[5], cloneRuns[9])

	// A shared volume in clones: its virtiofs share is hot-added after the
	// restore. Two running clones see each other's writes.
	vol := uniqueName(t) + "-vol"
	if r := dockerWith(t, v.ex, "", "volume", "create", vol); r.Exit != 0 {
		t.Fatalf("volume create: %s", r)
	}
	w := uniqueName(t) + "-w"
	if r := dockerWith(t, v.ex, "", "run", "-d", "--name", w, "-v", vol+":/data", env.busybox,
		"sh", "-c", "echo one > /data/f; sleep 600"); r.Exit != 0 {
		t.Fatalf("run -d with a volume: %s", r)
	}
	rd := uniqueName(t) + "-r"
	var out string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		dockerWith(t, v.ex, "", "rm", "-f", rd)
		r := dockerWith(t, v.ex, "", "run", "--name", rd, "-v", vol+":/data", env.busybox, "sh", "-c", "cat /data/f && echo two > /data/g")
		out = strings.TrimSpace(r.Stdout)
		if r.Exit == 0 && out == "one" || time.Now().After(deadline) {
			break
		}
	}
	if out != "one" {
		t.Fatalf("a second clone read %q from the shared volume, want one", out)
	}
	for _, name := range []string{w, rd} {
		if !v.restored(t, name) {
			t.Fatalf("%s (with a volume) was cold-booted, not restored from %v", name, v.templates())
		}
	}
	if r := dockerWith(t, v.ex, "", "exec", w, "cat", "/data/g"); r.Exit != 0 || strings.TrimSpace(r.Stdout) != "two" {
		t.Fatalf("the running clone does not see the other's write: %s", r)
	}
	dockerWith(t, v.ex, "", "rm", "-f", w, rd)

	// No network: another shape (no NIC slots). The first start
	// cold-boots and has its template built; the next is a clone.
	name := uniqueName(t) + "-none"
	began := time.Now()
	if lines := v.run(t, name, "--network", "none"); len(lines) != 3 || lines[2] != "none" {
		t.Fatalf("--network none: %q", lines)
	}
	t.Logf("docker run of the probe, cold boot (--network none): %v", time.Since(began))
	dockerWith(t, v.ex, "", "rm", name)
	v.awaitTemplates(t, 2)
	name = uniqueName(t) + "-none2"
	v.run(t, name, "--network", "none")
	if !v.restored(t, name) {
		t.Fatalf("--network none: not restored from %v", v.templates())
	}
	dockerWith(t, v.ex, "", "rm", name)

	// A template whose device state does not match its manifest: the
	// next start cold-boots, and the template is rebuilt.
	for _, d := range v.templates() {
		b, err := os.ReadFile(filepath.Join(d, "state"))
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(filepath.Join(d, "state"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	name = uniqueName(t) + "-corrupt"
	v.run(t, name)
	if v.restored(t, name) {
		t.Fatal("a start restored a template whose state file was corrupted")
	}
	dockerWith(t, v.ex, "", "rm", name)
	// The start discarded the network shape's template (the other one
	// stays corrupt until a start of its shape finds it) and had it
	// rebuilt in the background.
	v.awaitTemplates(t, 2)
	name = uniqueName(t) + "-rebuilt"
	v.run(t, name)
	if !v.restored(t, name) {
		t.Fatalf("after the rebuild the start was not a clone: %v", v.templates())
	}
	dockerWith(t, v.ex, "", "rm", name)

	// A truncated manifest: discarded too, the start still succeeds.
	for _, d := range v.templates() {
		if err := os.WriteFile(filepath.Join(d, "manifest.json"), []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	name = uniqueName(t) + "-manifest"
	v.run(t, name, "--network", "none")
	dockerWith(t, v.ex, "", "rm", name)

	if out, err := vicMachine("delete", "--name", v.name, "--force"); err != nil {
		t.Fatalf("vic-machine delete: %v\n%s", err, out)
	}
	if _, err := os.Stat(v.templateDir()); !os.IsNotExist(err) {
		t.Fatalf("templates left after vic-machine delete: %v", err)
	}
}
