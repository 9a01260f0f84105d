package e2e

import (
	"archive/tar"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
)

// TestCommitRunPushPull: docker commit of a running container (paused
// while its layer is read) with -c, -m and -a makes an image that holds
// the container's changes: a file added, a file changed, a file deleted
// (a whiteout) and a directory replaced; docker inspect shows its Parent,
// Comment, Author and merged Config; it runs, and survives a push, rmi and
// pull through the registry. docker export streams the whole root file
// system. Bad input gets dockerd's texts.
func TestCommitRunPushPull(t *testing.T) {
	img := pulled(t)
	name, id := runningContainer(t, "-e", "FROM_RUN=1", "--tmpfs", "/scratch")
	mustDocker(t, "exec", name, "sh", "-c",
		"echo mounted > /scratch/in-tmpfs; echo added > /root/added; echo changed > /etc/motd; rm /etc/group; rm -rf /var/spool; mkdir -p /var/spool && echo fresh > /var/spool/only")
	ref := env.registry.Addr + "/committed/" + strings.ToLower(uniqueName(t)) + ":v1"
	newID := strings.TrimSpace(mustDocker(t, "commit", "-m", "a comment", "-a", "Jane <jane@example.com>",
		"-c", "ENV COMMITTED=yes", "-c", `CMD ["cat", "/root/added"]`, "-c", "LABEL stage=committed", "-c", "EXPOSE 8080/tcp",
		"-c", "WORKDIR /root", name, ref))
	if !strings.HasPrefix(newID, "sha256:") {
		t.Fatalf("commit printed %q", newID)
	}
	if st := inspect(t, name).State; !st.Running || st.Status != "running" {
		t.Fatalf("the container after commit: %+v", st)
	}
	t.Cleanup(func() { docker(t, "rmi", "-f", ref) })

	// Parent is read by hand: the API type marks it deprecated.
	var ii []struct {
		image.InspectResponse
		Parent string
	}
	if err := json.Unmarshal([]byte(mustDocker(t, "image", "inspect", ref)), &ii); err != nil || len(ii) != 1 {
		t.Fatalf("image inspect: %v", err)
	}
	parent := strings.TrimSpace(mustDocker(t, "image", "inspect", "-f", "{{.Id}}", img))
	got := ii[0]
	if got.ID != newID || got.Parent != parent || got.Comment != "a comment" || got.Author != "Jane <jane@example.com>" {
		t.Errorf("inspect: id %s parent %s comment %q author %q (want %s, %s)", got.ID, got.Parent, got.Comment, got.Author, newID, parent)
	}
	if r := docker(t, "rmi", parent); r.Exit == 0 || !strings.Contains(r.Stderr, "image has dependent child images") {
		t.Errorf("rmi of the parent: %s", r)
	}
	c := got.Config
	if c == nil || strings.Join(c.Cmd, " ") != "cat /root/added" || c.WorkingDir != "/root" || c.Labels["stage"] != "committed" {
		t.Fatalf("config: %+v", c)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts: %v", c.ExposedPorts)
	}
	env := strings.Join(c.Env, " ")
	if !strings.Contains(env, "COMMITTED=yes") || !strings.Contains(env, "FROM_RUN=1") {
		t.Errorf("Env: %v", c.Env)
	}
	if n := len(got.RootFS.Layers); n < 2 {
		t.Errorf("layers: %v", got.RootFS.Layers)
	}
	if out := mustDocker(t, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, ref+"\n") {
		t.Errorf("docker images lacks %s:\n%s", ref, out)
	}

	check := func(stage string) {
		t.Helper()
		if out := mustDocker(t, "run", "--rm", ref); out != "added\n" {
			t.Errorf("%s: the image's CMD printed %q", stage, out)
		}
		out := mustDocker(t, "run", "--rm", ref, "sh", "-c",
			"pwd; cat /etc/motd; test -e /etc/group && echo group-there; ls /var/spool; echo $COMMITTED")
		if out != "/root\nchanged\nonly\nyes\n" {
			t.Errorf("%s: in the new image: %q", stage, out)
		}
	}
	check("committed")
	mustDocker(t, "push", ref)
	mustDocker(t, "rmi", ref)
	mustDocker(t, "pull", ref)
	check("pulled back")

	// A stopped container commits too, without pause, untagged.
	mustDocker(t, "stop", "-t", "1", name)
	untagged := strings.TrimSpace(mustDocker(t, "commit", "--pause=false", name))
	if !strings.HasPrefix(untagged, "sha256:") {
		t.Fatalf("commit of the stopped container printed %q", untagged)
	}
	if out := mustDocker(t, "run", "--rm", untagged, "cat", "/root/added"); out != "added\n" {
		t.Errorf("untagged image: %q", out)
	}
	docker(t, "rmi", untagged)

	// docker export: the whole file system, with the changes.
	exported := mustDocker(t, "export", id)
	names := map[string]bool{}
	tr := tar.NewReader(strings.NewReader(exported))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("export tar: %v", err)
		}
		names[strings.TrimSuffix(h.Name, "/")] = true
	}
	for _, want := range []string{"bin/sh", "root/added", "var/spool/only", "etc/motd", "proc"} {
		if !names[want] {
			t.Errorf("export lacks %s (%d entries)", want, len(names))
		}
	}
	if names["etc/group"] || names["scratch/in-tmpfs"] || !names["scratch"] {
		t.Errorf("export holds the deleted etc/group or the tmpfs's content, or lacks its mount point")
	}

	// Bad input.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"commit", "no-such-container-xyz"}, "No such container: no-such-container-xyz"},
		{[]string{"commit", "-c", "RUN echo hi", name, "x"}, "run is not a valid change command"},
		{[]string{"commit", name, "Bad/Repo"}, "invalid reference format"},
	} {
		r := docker(t, tc.args...)
		if r.Exit == 0 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("docker %s: want %q, got %s", strings.Join(tc.args, " "), tc.want, r)
		}
	}
}
