package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vchproject/vch/tests/fixture"
)

// volumeImage is busybox plus /data/seed.txt (owned by 1000:1000) and
// VOLUME /data, pushed once.
var (
	volImgOnce sync.Once
	volImgRef  string
	volImgErr  error
)

func volumeImage(t *testing.T) string {
	t.Helper()
	volImgOnce.Do(func() {
		layer, err := fixture.BuildLayer([]fixture.Entry{
			{Path: "data", Type: '5', Mode: 0o755, UID: 1000, GID: 1000},
			{Path: "data/seed.txt", Mode: 0o640, Data: []byte("seeded by the image\n"), UID: 1000, GID: 1000},
		})
		if err != nil {
			volImgErr = err
			return
		}
		img, err := fixture.WithLayer(env.bbImage, fixture.ImageConfig{
			Cmd: []string{"sh"}, Volumes: map[string]struct{}{"/data": {}},
		}, layer)
		if err != nil {
			volImgErr = err
			return
		}
		if volImgErr = env.registry.Push(context.Background(), "volimg", "latest", img); volImgErr != nil {
			return
		}
		volImgRef = env.registry.Addr + "/volimg:latest"
		if r := docker(t, "pull", volImgRef); r.Exit != 0 {
			volImgErr = &pullError{r.String()}
		}
	})
	if volImgErr != nil {
		t.Fatal(volImgErr)
	}
	return volImgRef
}

type pullError struct{ s string }

func (e *pullError) Error() string { return "pull volimg: " + e.s }

type volumeJSON struct {
	Name       string
	Driver     string
	Mountpoint string
	Labels     map[string]string
	Options    map[string]string
	Status     map[string]any
	CreatedAt  string
}

func volumeInspect(t *testing.T, name string) volumeJSON {
	t.Helper()
	var v []volumeJSON
	if err := json.Unmarshal([]byte(mustDocker(t, "volume", "inspect", name)), &v); err != nil || len(v) != 1 {
		t.Fatalf("volume inspect %s: %v", name, err)
	}
	return v[0]
}

func volumeNames(t *testing.T, args ...string) []string {
	t.Helper()
	out := mustDocker(t, append([]string{"volume", "ls", "-q"}, args...)...)
	return strings.Fields(out)
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// vic-machine's stores reach docker info; volume create/inspect/ls/rm with
// VIC's options, labels and filters; bad input gets a 4xx and leaves nothing.
func TestVolumeStoresCreateInspectLsRm(t *testing.T) {
	info := mustDocker(t, "info")
	if !strings.Contains(info, "VolumeStores: default other") || !strings.Contains(info, env.volStores["other"]) {
		t.Fatalf("docker info does not show the volume stores:\n%s", info)
	}
	name := uniqueName(t)
	if got := strings.TrimSpace(mustDocker(t, "volume", "create", "--opt", "VolumeStore=other", "--opt", "Capacity=64MB", "--label", "team=a", "--name", name)); got != name {
		t.Fatalf("volume create printed %q", got)
	}
	defer docker(t, "volume", "rm", "-f", name)
	v := volumeInspect(t, name)
	if v.Driver != "local" || v.Options["VolumeStore"] != "other" || v.Options["Capacity"] != "64MB" || v.Labels["team"] != "a" ||
		v.Status["VolumeStore"] != "other" || v.Status["StorePath"] != env.volStores["other"] || !strings.HasPrefix(v.Mountpoint, env.volStores["other"]) {
		t.Fatalf("volume inspect: %+v", v)
	}
	if _, err := time.Parse(time.RFC3339, v.CreatedAt); err != nil {
		t.Fatalf("CreatedAt %q: %v", v.CreatedAt, err)
	}
	// Default store and default capacity (1 GB); capacity without unit is MB.
	plain := name + "-plain"
	mustDocker(t, "volume", "create", plain)
	defer docker(t, "volume", "rm", "-f", plain)
	// Options keep what the user gave (none: docker-compose 1.x compares
	// them with driver_opts); the defaults applied are in Status.
	if p := volumeInspect(t, plain); len(p.Options) != 0 || p.Status["VolumeStore"] != "default" || p.Status["Capacity"] != "1GB" {
		t.Fatalf("defaults: %+v", p)
	}
	mb := name + "-mb"
	mustDocker(t, "volume", "create", "--opt", "Capacity=100", mb)
	defer docker(t, "volume", "rm", "-f", mb)
	if p := volumeInspect(t, mb); p.Options["Capacity"] != "100MB" {
		t.Fatalf("Capacity=100: %+v", p)
	}
	// Creating an existing name returns it, as docker does.
	mustDocker(t, "volume", "create", name)

	for _, tc := range []struct {
		args   []string
		want   []string
		absent []string
	}{
		{[]string{"--filter", "label=team=a"}, []string{name}, []string{plain}},
		{[]string{"--filter", "label=team"}, []string{name}, []string{plain}},
		{[]string{"--filter", "name=" + name + "-pl"}, []string{plain}, []string{name}},
		{[]string{"--filter", "driver=local"}, []string{name, plain}, nil},
		{[]string{"--filter", "dangling=true"}, []string{name, plain}, nil},
		{[]string{"--filter", "dangling=false"}, nil, []string{name, plain}},
	} {
		got := volumeNames(t, tc.args...)
		for _, w := range tc.want {
			if !has(got, w) {
				t.Errorf("volume ls %v: %v lacks %s", tc.args, got, w)
			}
		}
		for _, a := range tc.absent {
			if has(got, a) {
				t.Errorf("volume ls %v: %v has %s", tc.args, got, a)
			}
		}
	}
	if r := docker(t, "volume", "ls", "--filter", "color=red"); r.Exit == 0 || !strings.Contains(r.Stderr, "invalid filter 'color'") {
		t.Fatalf("bad filter: %s", r)
	}

	before := volumeNames(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--opt", "VolumeStore=nope", "bad-store"}, "no volume store named (nope)"},
		{[]string{"--opt", "Capacity=lots", "bad-cap"}, `bad Capacity "lots"`},
		{[]string{"--opt", "Capacity=1PB", "bad-unit"}, `bad Capacity "1PB"`},
		{[]string{"--opt", "Capacity=1", "too-small"}, "below the minimum"},
		{[]string{"--opt", "Color=red", "bad-opt"}, `invalid option key: "Color"`},
		{[]string{"a/b"}, "includes invalid characters for a local volume name"},
		{[]string{"--driver", "nfs", "bad-driver"}, `plugin "nfs" not found`},
	} {
		r := docker(t, append([]string{"volume", "create"}, tc.args...)...)
		if r.Exit == 0 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("volume create %v: %s, want %q", tc.args, r, tc.want)
		}
	}
	if after := volumeNames(t); len(after) != len(before) {
		t.Fatalf("bad input left volumes: before %v after %v", before, after)
	}
	for _, label := range []string{"default", "other"} {
		entries, _ := os.ReadDir(filepath.Join(env.volStores[label], "volumes"))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "bad") {
				t.Errorf("store %s holds leftover %s", label, e.Name())
			}
		}
	}

	mustDocker(t, "volume", "rm", name)
	if r := docker(t, "volume", "inspect", name); r.Exit == 0 || !strings.Contains(r.Stderr, "no such volume") {
		t.Fatalf("inspect after rm: %s", r)
	}
	if r := docker(t, "volume", "rm", name); r.Exit == 0 || !strings.Contains(r.Stderr, "no such volume") {
		t.Fatalf("rm of a removed volume: %s", r)
	}
}

// The seed's stateful workflow (docker cp aside): data written through a
// named volume outlives the container; ro mounts refuse writes; rm of a
// volume in use is 409 with docker's text.
func TestNamedVolumeOutlivesContainers(t *testing.T) {
	img := pulled(t)
	vol := uniqueName(t)
	mustDocker(t, "volume", "create", "--opt", "VolumeStore=default", "--opt", "Capacity=1G", "--name", vol)
	defer docker(t, "volume", "rm", "-f", vol)
	truck := uniqueName(t) + "-truck"
	mustDocker(t, "run", "--name", truck, "-v", vol+":/stuff", img, "sh", "-c", "echo cargo > /stuff/dest-file; ls -a /stuff")
	if r := docker(t, "volume", "rm", vol); r.Exit == 0 || !strings.Contains(r.Stderr, "volume is in use") {
		t.Fatalf("rm of a volume a container uses: %s", r)
	}
	if got := volumeNames(t, "--filter", "dangling=false"); !has(got, vol) {
		t.Fatalf("dangling=false lacks the used volume: %v", got)
	}
	var mounts []struct {
		Type, Name, Destination, Driver string
		RW                              bool
	}
	if err := json.Unmarshal([]byte(mustDocker(t, "inspect", "--format", "{{json .Mounts}}", truck)), &mounts); err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 1 || mounts[0].Type != "volume" || mounts[0].Name != vol || mounts[0].Destination != "/stuff" || !mounts[0].RW {
		t.Fatalf("inspect Mounts: %+v", mounts)
	}
	if got := mustDocker(t, "ps", "-a", "--no-trunc", "--filter", "name="+truck, "--format", "{{.Mounts}}"); strings.TrimSpace(got) != vol {
		t.Fatalf("ps Mounts: %q", got)
	}
	mustDocker(t, "rm", truck)
	if got := mustDocker(t, "run", "--rm", "-v", vol+":/stuff", img, "cat", "/stuff/dest-file"); got != "cargo\n" {
		t.Fatalf("second container reads %q", got)
	}
	r := docker(t, "run", "--rm", "-v", vol+":/stuff:ro", img, "sh", "-c", "cat /stuff/dest-file; echo x > /stuff/other")
	if r.Exit == 0 || r.Stdout != "cargo\n" || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Fatalf("ro mount: %s", r)
	}
	mustDocker(t, "volume", "rm", vol)
}

// Capacity is enforced: writing past it fails with ENOSPC in the container.
func TestVolumeCapacityEnforced(t *testing.T) {
	img := pulled(t)
	vol := uniqueName(t)
	mustDocker(t, "volume", "create", "--opt", "Capacity=16", vol)
	defer docker(t, "volume", "rm", "-f", vol)
	r := docker(t, "run", "--rm", "-v", vol+":/v", img, "dd", "if=/dev/zero", "of=/v/big", "bs=1M", "count=32")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "No space left on device") {
		t.Fatalf("writing 32 MB into a 16 MB volume: %s", r)
	}
	// The 1 GB default holds what the small one could not.
	big := vol + "-1g"
	mustDocker(t, "volume", "create", big)
	defer docker(t, "volume", "rm", "-f", big)
	mustDocker(t, "run", "--rm", "-v", big+":/v", img, "dd", "if=/dev/zero", "of=/v/big", "bs=1M", "count=32")
}

// An image's VOLUME gets a fresh anonymous volume filled from the image;
// -v /path, --mount and --tmpfs work; rm -v removes anonymous volumes and
// keeps named ones; prune removes anonymous ones unless -a.
func TestAnonymousVolumesMountsAndPrune(t *testing.T) {
	img := volumeImage(t)
	name := uniqueName(t)
	named := name + "-named"
	out := mustDocker(t, "run", "--name", name, "-v", "/scratch", "--mount", "type=volume,source="+named+",target=/m,volume-opt=Capacity=32MB",
		"--tmpfs", "/t:size=8m", img, "sh", "-c",
		"cat /data/seed.txt; stat -c '%u:%g %a' /data/seed.txt; ls -a /scratch | wc -l; echo n > /m/f; grep ' /t ' /proc/mounts | cut -d' ' -f3; df -k /m | tail -1 | awk '{print ($2 < 40000)}'")
	want := "seeded by the image\n1000:1000 640\n2\ntmpfs\n1\n"
	if out != want {
		t.Fatalf("container saw:\n%s\nwant:\n%s", out, want)
	}
	var mounts []struct{ Name, Destination string }
	if err := json.Unmarshal([]byte(mustDocker(t, "inspect", "--format", "{{json .Mounts}}", name)), &mounts); err != nil {
		t.Fatal(err)
	}
	anon := map[string]string{}
	for _, m := range mounts {
		if m.Name != "" && m.Name != named {
			anon[m.Destination] = m.Name
		}
	}
	if len(anon) != 2 || anon["/data"] == "" || anon["/scratch"] == "" {
		t.Fatalf("anonymous volumes: %+v", mounts)
	}
	if v := volumeInspect(t, anon["/data"]); v.Status["VolumeStore"] != "default" {
		t.Fatalf("anonymous volume not in the default store: %+v", v)
	}
	if v := volumeInspect(t, named); v.Options["Capacity"] != "32MB" {
		t.Fatalf("--mount volume-opt: %+v", v)
	}
	// A container's changes stay in its volume; a new container gets a
	// new, freshly seeded one.
	if got := mustDocker(t, "run", "--rm", img, "sh", "-c", "cat /data/seed.txt; echo changed > /data/seed.txt"); got != "seeded by the image\n" {
		t.Fatalf("second container: %q", got)
	}
	mustDocker(t, "rm", "-v", name)
	all := volumeNames(t)
	for _, a := range anon {
		if has(all, a) {
			t.Errorf("rm -v kept anonymous volume %s", a)
		}
	}
	if !has(all, named) {
		t.Fatalf("rm -v removed the named volume %s", named)
	}
	// prune: only anonymous volumes (here: one left by a container removed
	// without -v), then -a takes the unused named one too.
	left := name + "-left"
	mustDocker(t, "run", "--name", left, "-v", "/keep", img, "true")
	var lm []struct{ Name string }
	if err := json.Unmarshal([]byte(mustDocker(t, "inspect", "--format", "{{json .Mounts}}", left)), &lm); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, "rm", left)
	pruned := mustDocker(t, "volume", "prune", "-f")
	for _, m := range lm {
		if !strings.Contains(pruned, m.Name) {
			t.Errorf("prune did not remove anonymous %s:\n%s", m.Name, pruned)
		}
	}
	if strings.Contains(pruned, named) {
		t.Fatalf("prune without -a removed named %s", named)
	}
	if pruned := mustDocker(t, "volume", "prune", "-a", "-f", "--filter", "label!=nothing"); !strings.Contains(pruned, named) {
		t.Fatalf("prune -a kept %s:\n%s", named, pruned)
	}
}

// One named volume mounted by several running containers at once (what
// compose files do): each sees the others' writes, both directions, a
// third container sees both, and the capacity still holds.
func TestVolumeSharedByRunningContainers(t *testing.T) {
	img := pulled(t)
	vol := uniqueName(t)
	mustDocker(t, "volume", "create", "--opt", "Capacity=64MB", "--name", vol)
	defer docker(t, "volume", "rm", "-f", vol)
	a, b := vol+"-a", vol+"-b"
	mustDocker(t, "run", "-d", "--name", a, "-v", vol+":/shared", img, "sleep", "600")
	defer docker(t, "rm", "-f", a)
	mustDocker(t, "run", "-d", "--name", b, "-v", vol+":/data", img, "sleep", "600")
	defer docker(t, "rm", "-f", b)
	for _, c := range []string{a, b} {
		if st := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.Status}}", c)); st != "running" {
			t.Fatalf("%s is %s, want both running", c, st)
		}
	}
	mustDocker(t, "exec", a, "sh", "-c", "echo from-a > /shared/a.txt")
	var got string
	poll(t, "b to see a's file", func() bool {
		got = docker(t, "exec", b, "cat", "/data/a.txt").Stdout
		return got == "from-a\n"
	})
	mustDocker(t, "exec", b, "sh", "-c", "echo from-b > /data/b.txt; echo more >> /data/a.txt")
	poll(t, "a to see b's writes", func() bool {
		got = docker(t, "exec", a, "cat", "/shared/b.txt", "/shared/a.txt").Stdout
		return got == "from-b\nfrom-a\nmore\n"
	})
	if got := mustDocker(t, "run", "--rm", "-v", vol+":/v", img, "cat", "/v/a.txt", "/v/b.txt"); got != "from-a\nmore\nfrom-b\n" {
		t.Fatalf("a third container reads %q", got)
	}
	r := docker(t, "exec", b, "dd", "if=/dev/zero", "of=/data/big", "bs=1M", "count=128")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "No space left on device") {
		t.Fatalf("writing 128 MB into a shared 64 MB volume: %s", r)
	}
	mustDocker(t, "exec", a, "rm", "/shared/big")
	if r := docker(t, "volume", "rm", vol); r.Exit == 0 || !strings.Contains(r.Stderr, "volume is in use") {
		t.Fatalf("rm of a volume two running containers use: %s", r)
	}
}

// Volumes and what is in them survive a vchd restart.
func TestVolumesSurviveVCHDRestart(t *testing.T) {
	img := pulled(t)
	vol := uniqueName(t)
	mustDocker(t, "volume", "create", "--opt", "VolumeStore=other", "--label", "k=v", vol)
	defer docker(t, "volume", "rm", "-f", vol)
	mustDocker(t, "run", "--rm", "-v", vol+":/v", img, "sh", "-c", "echo kept > /v/f")
	restartE2EVCHD(t)
	if v := volumeInspect(t, vol); v.Options["VolumeStore"] != "other" || v.Labels["k"] != "v" {
		t.Fatalf("after restart: %+v", v)
	}
	if got := mustDocker(t, "run", "--rm", "-v", vol+":/v", img, "cat", "/v/f"); got != "kept\n" {
		t.Fatalf("after restart the volume holds %q", got)
	}
}

func restartE2EVCHD(t *testing.T) {
	t.Helper()
	signalVCHD(t, env.vchRoot, syscall.SIGTERM)
	if out, err := vicMachine("start", "--name", env.name); err != nil {
		t.Fatalf("vic-machine start: %v\n%s", err, out)
	}
}
