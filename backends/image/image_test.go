package image

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vchproject/vch/backends/internal/fakestore"
	refstore "github.com/vchproject/vch/backends/reference"
	imagerouter "github.com/vchproject/vch/daemon/router/image"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/fake"
	"github.com/vchproject/vch/portlayer/storage"
)

type env struct {
	b       *Backend
	store   *fakestore.Store
	compute *fake.Provider
	refPath string
	busybox storage.Image
	alpine  storage.Image
}

func imageConfig(cmd string, labels map[string]string, created time.Time) dockerspec.DockerOCIImage {
	var c dockerspec.DockerOCIImage
	c.Created = &created
	c.OS, c.Architecture = "linux", "amd64"
	c.Config.Cmd = []string{cmd}
	c.Config.Labels = labels
	c.RootFS = ocispec.RootFS{Type: "layers"}
	return c
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{store: fakestore.New(), compute: fake.New(), refPath: filepath.Join(t.TempDir(), "refs.json")}
	t.Cleanup(func() {
		if err := e.compute.Close(); err != nil {
			t.Error(err)
		}
	})
	e.busybox = fakestore.Image(imageConfig("sh", nil, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 4_000_000)
	e.alpine = fakestore.Image(imageConfig("/bin/sh", map[string]string{"org": "alpine"}, time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)), time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), 7_000_000)
	e.store.Remote("127.0.0.1:5000/busybox:latest", e.busybox)
	e.store.Remote("127.0.0.1:5000/alpine:3", e.alpine)
	e.reopen(t)
	return e
}

func (e *env) reopen(t *testing.T) {
	refs, err := refstore.Open(e.refPath)
	if err != nil {
		t.Fatal(err)
	}
	e.b = New(e.store, refs, e.compute, nil)
}

func (e *env) pull(t *testing.T, image, tag string) []jsonmessage.JSONMessage {
	t.Helper()
	var buf bytes.Buffer
	if err := e.b.PullImage(context.Background(), imagerouter.PullConfig{Image: image, Tag: tag, Output: &buf}); err != nil {
		t.Fatal(err)
	}
	return decode(t, buf.Bytes())
}

func decode(t *testing.T, b []byte) []jsonmessage.JSONMessage {
	t.Helper()
	var out []jsonmessage.JSONMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("progress stream is not JSON messages: %v\n%s", err, b)
		}
		out = append(out, m)
	}
}

func TestPullProgressStream(t *testing.T) {
	e := newEnv(t)
	e.store.Script(
		storage.Progress{ID: "a46fbb00284b", Status: "Pulling fs layer"},
		storage.Progress{ID: "a46fbb00284b", Status: "Downloading", Current: 1_000_000, Total: 2_000_000},
		storage.Progress{ID: "a46fbb00284b", Status: "Download complete"},
		storage.Progress{ID: "a46fbb00284b", Status: "Pull complete"},
	)
	raw := &bytes.Buffer{}
	if err := e.b.PullImage(context.Background(), imagerouter.PullConfig{Image: "127.0.0.1:5000/busybox", Tag: "latest", Output: raw}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw.String(), `"progressDetail":{}`) {
		t.Fatalf("per-layer statuses lack progressDetail: %s", raw)
	}
	msgs := decode(t, raw.Bytes())
	want := []struct{ id, status string }{
		{"latest", "Pulling from busybox"},
		{"a46fbb00284b", "Pulling fs layer"},
		{"a46fbb00284b", "Downloading"},
		{"a46fbb00284b", "Download complete"},
		{"a46fbb00284b", "Pull complete"},
		{"", "Digest: " + e.busybox.ManifestDigest},
		{"", "Status: Downloaded newer image for 127.0.0.1:5000/busybox:latest"},
	}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages: %+v", len(msgs), msgs)
	}
	for i, w := range want {
		if msgs[i].ID != w.id || msgs[i].Status != w.status {
			t.Errorf("message %d = %q %q, want %q %q", i, msgs[i].ID, msgs[i].Status, w.id, w.status)
		}
	}
	dl := msgs[2]
	if dl.Progress == nil || dl.Progress.Current != 1_000_000 || dl.Progress.Total != 2_000_000 {
		t.Fatalf("progressDetail %+v", dl.Progress)
	}
	// The textual bar, docker's "progress" field, on the Downloading line.
	lines := strings.Split(strings.TrimSpace(raw.String()), "\r\n")
	var line struct {
		Progress string `json:"progress"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &line); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line.Progress, "[=========================>                         ] ") || !strings.HasSuffix(line.Progress, "1MB/2MB") {
		t.Fatalf("progress bar %q", line.Progress)
	}

	// Pulled again: nothing downloaded, same ID.
	e.store.Script(storage.Progress{ID: "a46fbb00284b", Status: "Already exists"})
	msgs = e.pull(t, "127.0.0.1:5000/busybox", "latest")
	if last := msgs[len(msgs)-1].Status; last != "Status: Image is up to date for 127.0.0.1:5000/busybox:latest" {
		t.Fatalf("second pull said %q", last)
	}
}

func TestPullErrors(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	err := e.b.PullImage(context.Background(), imagerouter.PullConfig{Image: "127.0.0.1:5000/nope", Tag: "latest", Output: &buf})
	if !errdefs.IsNotFound(err) || buf.Len() != 0 {
		t.Fatalf("unknown image: %v, output %q", err, buf.String())
	}
	err = e.b.PullImage(context.Background(), imagerouter.PullConfig{Image: "UPPER", Output: &buf})
	if !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad name: %v", err)
	}
	if got := e.store.Pulls; len(got) != 1 || got[0] != "127.0.0.1:5000/nope:latest" {
		t.Fatalf("pulls %v", got)
	}
}

func TestResolve(t *testing.T) {
	e := newEnv(t)
	e.pull(t, "127.0.0.1:5000/busybox", "")
	// Tags survive a restart: a new backend over the same file.
	e.reopen(t)
	ctx := context.Background()
	id := e.busybox.ID
	for _, ref := range []string{
		"127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest",
		"127.0.0.1:5000/busybox@" + e.busybox.ManifestDigest,
		id, strings.TrimPrefix(id, "sha256:"), id[:15], ShortID(id)[:4],
	} {
		img, err := e.b.Resolve(ctx, ref)
		if err != nil || img.ID != id {
			t.Errorf("Resolve(%q) = %s, %v", ref, img.ID, err)
		}
	}
	for ref, text := range map[string]string{
		"busybox":                           "No such image: busybox:latest",
		"127.0.0.1:5000/x":                  "No such image: 127.0.0.1:5000/x:latest",
		"sha256:" + strings.Repeat("0", 64): "No such image: sha256:" + strings.Repeat("0", 64),
	} {
		_, err := e.b.Resolve(ctx, ref)
		if !errdefs.IsNotFound(err) || err.Error() != text {
			t.Errorf("Resolve(%q) error %v, want %q", ref, err, text)
		}
	}
}

func TestListInspectTag(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.pull(t, "127.0.0.1:5000/busybox", "latest")
	e.pull(t, "127.0.0.1:5000/alpine", "3")
	if err := e.b.TagImage(ctx, "127.0.0.1:5000/busybox", "mybox", "v1"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ repo, tag, text string }{
		{"UPPER", "", "invalid reference format: repository name (library/UPPER) must be lowercase"},
		{"sha256", "x", "refusing to create an ambiguous tag using digest algorithm as name"},
		{"ok", "bad tag", "invalid tag format"},
	} {
		err := e.b.TagImage(ctx, "mybox:v1", tc.repo, tc.tag)
		if !errdefs.IsInvalidParameter(err) || err.Error() != tc.text {
			t.Errorf("tag %s:%s: %v, want %q", tc.repo, tc.tag, err, tc.text)
		}
	}
	if err := e.b.TagImage(ctx, "ghost", "x", ""); !errdefs.IsNotFound(err) {
		t.Errorf("tag unknown source: %v", err)
	}
	if err := e.compute.Create(ctx, compute.Spec{ID: strings.Repeat("c", 64), Image: e.busybox.ID, Process: compute.Process{Args: []string{"sh"}}}); err != nil {
		t.Fatal(err)
	}

	list, err := e.b.Images(ctx, false, filters.NewArgs())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != e.alpine.ID || list[1].ID != e.busybox.ID {
		t.Fatalf("list order %+v", list)
	}
	bb := list[1]
	if strings.Join(bb.RepoTags, ",") != "127.0.0.1:5000/busybox:latest,mybox:v1" ||
		strings.Join(bb.RepoDigests, ",") != "127.0.0.1:5000/busybox@"+e.busybox.ManifestDigest ||
		bb.Containers != 1 || bb.Size != 4_000_000 || bb.Created != time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("busybox summary %+v", bb)
	}
	if list[0].Labels["org"] != "alpine" || list[0].Containers != 0 {
		t.Fatalf("alpine summary %+v", list[0])
	}
	list, err = e.b.Images(ctx, false, filters.NewArgs(filters.Arg("reference", "mybox")))
	if err != nil || len(list) != 1 || strings.Join(list[0].RepoTags, ",") != "mybox:v1" {
		t.Fatalf("reference filter: %+v %v", list, err)
	}
	if _, err := e.b.Images(ctx, false, filters.NewArgs(filters.Arg("bogus", "1"))); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bogus filter: %v", err)
	}

	ins, err := e.b.ImageInspect(ctx, "mybox:v1")
	if err != nil {
		t.Fatal(err)
	}
	if ins.ID != e.busybox.ID || ins.Os != "linux" || ins.Architecture != "amd64" || ins.Created != "2024-01-01T00:00:00Z" ||
		ins.Config == nil || ins.Config.Cmd[0] != "sh" || ins.RootFS.Type != "layers" || len(ins.RootFS.Layers) != 1 ||
		ins.GraphDriver.Name != "vch" || ins.GraphDriver.Data == nil || len(ins.RepoTags) != 2 || len(ins.RepoDigests) != 1 {
		t.Fatalf("inspect %+v", ins)
	}
	if _, err := e.b.ImageInspect(ctx, "nope"); !errdefs.IsNotFound(err) || err.Error() != "No such image: nope:latest" {
		t.Fatalf("inspect unknown: %v", err)
	}
}

func flatten(t *testing.T, rs []image.DeleteResponse, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, r := range rs {
		if r.Untagged != "" {
			s = append(s, "U:"+r.Untagged)
		}
		if r.Deleted != "" {
			s = append(s, "D:"+ShortID(r.Deleted))
		}
	}
	return strings.Join(s, " ")
}

func TestImageDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.pull(t, "127.0.0.1:5000/busybox", "latest")
	id := e.busybox.ID
	short := ShortID(id)
	flat := func(rs []image.DeleteResponse, err error) string { return flatten(t, rs, err) }
	cid := strings.Repeat("c", 64)
	if err := e.compute.Create(ctx, compute.Spec{ID: cid, Image: id, Process: compute.Process{Args: []string{"sleep"}}}); err != nil {
		t.Fatal(err)
	}

	// By tag with a stopped container: docker refuses to leave it dangling.
	_, err := e.b.ImageDelete(ctx, "127.0.0.1:5000/busybox", false, false)
	want := `conflict: unable to remove repository reference "127.0.0.1:5000/busybox" (must force) - container cccccccccccc is using its referenced image ` + short
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Fatalf("rmi tag in use:\n got %v\nwant %s", err, want)
	}
	// By ID, stopped container: must be forced.
	_, err = e.b.ImageDelete(ctx, short, false, false)
	want = "conflict: unable to delete " + short + " (must be forced) - image is being used by stopped container cccccccccccc"
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Fatalf("rmi id stopped user:\n got %v\nwant %s", err, want)
	}
	// A second tag: untagging one name only untags.
	if err := e.b.TagImage(ctx, id, "other", "1"); err != nil {
		t.Fatal(err)
	}
	_, err = e.b.ImageDelete(ctx, short, false, false)
	want = "conflict: unable to delete " + short + " (must be forced) - image is referenced in multiple repositories"
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Fatalf("rmi id multiple repos:\n got %v\nwant %s", err, want)
	}
	if got := flat(e.b.ImageDelete(ctx, "other:1", false, false)); got != "U:other:1" {
		t.Fatalf("untag other: %s", got)
	}
	// Running: cannot be forced.
	if err := e.compute.Start(ctx, cid); err != nil {
		t.Fatal(err)
	}
	_, err = e.b.ImageDelete(ctx, short, true, false)
	want = "conflict: unable to delete " + short + " (cannot be forced) - image is being used by running container cccccccccccc"
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Fatalf("rmi -f id running user:\n got %v\nwant %s", err, want)
	}
	// Forced by tag while running: the tag and its digest go, the image stays.
	got := flat(e.b.ImageDelete(ctx, "127.0.0.1:5000/busybox:latest", true, false))
	if got != "U:127.0.0.1:5000/busybox:latest U:127.0.0.1:5000/busybox@"+e.busybox.ManifestDigest {
		t.Fatalf("rmi -f tag running: %s", got)
	}
	if _, err := e.store.Get(ctx, id); err != nil {
		t.Fatalf("image in use was deleted: %v", err)
	}
	// Once the container is gone, deleting by ID deletes.
	if err := e.compute.Kill(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if _, err := e.compute.Wait(ctx, cid, compute.WaitNotRunning); err != nil {
		t.Fatal(err)
	}
	if err := e.compute.Remove(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if got := flat(e.b.ImageDelete(ctx, short, false, false)); got != "D:"+short {
		t.Fatalf("rmi id: %s", got)
	}
	if _, err := e.b.ImageDelete(ctx, short, false, false); !errdefs.IsNotFound(err) {
		t.Fatalf("rmi twice: %v", err)
	}

	// Single tag, unused: untag then delete.
	e.pull(t, "127.0.0.1:5000/alpine", "3")
	got = flat(e.b.ImageDelete(ctx, "127.0.0.1:5000/alpine:3", false, false))
	if got != "U:127.0.0.1:5000/alpine:3 U:127.0.0.1:5000/alpine@"+e.alpine.ManifestDigest+" D:"+ShortID(e.alpine.ID) {
		t.Fatalf("rmi alpine: %s", got)
	}
}
