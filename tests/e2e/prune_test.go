package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/vchproject/vch/tests/fixture"
)

// docker container prune removes stopped containers the filters select
// and leaves running ones; docker image prune -a removes unused images
// the filters select.
func TestPrune(t *testing.T) {
	img := pulled(t)
	base := uniqueName(t)
	gone, kept, up := base+"-gone", base+"-kept", base+"-up"
	// gone ran and wrote 100 kB to its writable layer: prune reports
	// that space reclaimed.
	mustDocker(t, "run", "--name", gone, "--label", "e2e.prune="+base, img, "sh", "-c", "head -c 100000 /dev/zero > /big")
	mustDocker(t, "create", "--name", kept, img, "true")
	defer docker(t, "rm", "-f", kept)
	mustDocker(t, "run", "-d", "--name", up, "--label", "e2e.prune="+base, img, "sleep", "1000")
	defer docker(t, "rm", "-f", up)

	out := mustDocker(t, "container", "prune", "-f", "--filter", "label=e2e.prune="+base)
	if !strings.Contains(out, "Deleted Containers:") || !strings.Contains(out, "Total reclaimed space: 10") {
		t.Fatalf("container prune printed %q, want about 100 kB reclaimed", out)
	}
	if r := docker(t, "inspect", gone); r.Exit == 0 {
		t.Fatal("the stopped labelled container survived prune")
	}
	for _, n := range []string{kept, up} {
		if r := docker(t, "inspect", n); r.Exit != 0 {
			t.Fatalf("prune removed %s: %s", n, r)
		}
	}
	if r := docker(t, "container", "prune", "-f", "--filter", "bogus=1"); r.Exit == 0 {
		t.Fatalf("unknown filter accepted: %s", r)
	}

	layer, err := fixture.BuildLayer([]fixture.Entry{{Path: "prune.txt", Data: []byte(base), Mode: 0o644}})
	if err != nil {
		t.Fatal(err)
	}
	pimg, err := fixture.WithLayer(env.bbImage, fixture.ImageConfig{Cmd: []string{"sh"}, Labels: map[string]string{"e2e.prune": base}}, layer)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.registry.Push(context.Background(), "pruneme", "v1", pimg); err != nil {
		t.Fatal(err)
	}
	ref := env.registry.Addr + "/pruneme:v1"
	mustDocker(t, "pull", ref)
	// Tagged: a plain prune (dangling only) keeps it.
	mustDocker(t, "image", "prune", "-f", "--filter", "label=e2e.prune="+base)
	mustDocker(t, "image", "inspect", ref)
	out = mustDocker(t, "image", "prune", "-a", "-f", "--filter", "label=e2e.prune="+base)
	if !strings.Contains(out, "deleted: "+pimg.ID()) {
		t.Fatalf("image prune -a printed %q", out)
	}
	if r := docker(t, "image", "inspect", ref); r.Exit == 0 {
		t.Fatal("image survived prune -a")
	}
	mustDocker(t, "image", "inspect", img) // in use, unlabelled
}

// docker-py's defects: logs --tail counts lines; inspect has LogConfig.Type
// and Runtime; legacy links on the default bridge give docker's variables
// and hosts entry, and rm --link drops one; an unknown log driver is
// dockerd's 400; --mac-address is the guest NIC's MAC.
func TestLogsTailInspectDefaultsLinks(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	mustDocker(t, "run", "--name", name, img, "sh", "-c", "printf 'one\\ntwo\\nthree\\n'")
	defer docker(t, "rm", "-f", name)
	if out := mustDocker(t, "logs", "--tail", "1", name); out != "three\n" {
		t.Fatalf("logs --tail 1: %q", out)
	}
	if out := mustDocker(t, "logs", "--tail", "2", name); out != "two\nthree\n" {
		t.Fatalf("logs --tail 2: %q", out)
	}
	if out := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.HostConfig.LogConfig.Type}} {{.HostConfig.Runtime}}", name)); out != "json-file runc" {
		t.Fatalf("inspect defaults: %q", out)
	}
	if r := docker(t, "create", "--link", name+":db", img, "true"); r.Exit == 0 || !strings.Contains(r.Stderr, "not running") {
		t.Fatalf("--link to a stopped container: %s", r)
	}
	target, linker := name+"-db", name+"-web"
	mustDocker(t, "run", "-d", "--name", target, "-e", "FOO=1", "--expose", "5432", img, "sleep", "1000")
	defer docker(t, "rm", "-f", target)
	ip := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.NetworkSettings.IPAddress}}", target))
	out := mustDocker(t, "run", "--name", linker, "--link", target+":db", img, "sh", "-c", "env; cat /etc/hosts")
	defer docker(t, "rm", "-f", linker)
	for _, want := range []string{"DB_NAME=/" + linker + "/db\n", "DB_ENV_FOO=1\n", "DB_PORT=tcp://" + ip + ":5432\n",
		"DB_PORT_5432_TCP_ADDR=" + ip + "\n", "DB_PORT_5432_TCP_PORT=5432\n", "DB_PORT_5432_TCP_PROTO=tcp\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--link: output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ip) + `\s+db\s.*` + regexp.QuoteMeta(target)).MatchString(out) {
		t.Errorf("--link: no hosts entry for db at %s:\n%s", ip, out)
	}
	mustDocker(t, "rm", "--link", linker+"/db")
	if l := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.HostConfig.Links}}", linker)); l != "[]" {
		t.Errorf("links after rm --link: %s", l)
	}
	if r := docker(t, "create", "--log-driver", "asdf", img, "true"); r.Exit == 0 || !strings.Contains(r.Stderr, `error looking up logging plugin asdf: plugin "asdf" not found`) {
		t.Errorf("--log-driver asdf: %s", r)
	}
	if out := strings.TrimSpace(mustDocker(t, "run", "--rm", "--mac-address", "02:42:ac:11:00:0a", img, "cat", "/sys/class/net/eth0/address")); out != "02:42:ac:11:00:0a" {
		t.Errorf("--mac-address: the guest's eth0 has %q", out)
	}
}
