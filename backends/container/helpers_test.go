package container

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vchproject/vch/backends/events"
	"github.com/vchproject/vch/backends/image"
	"github.com/vchproject/vch/backends/internal/fakestore"
	refstore "github.com/vchproject/vch/backends/reference"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/portlayer/compute/fake"
	"github.com/vchproject/vch/portlayer/storage"
)

// env is a container backend over the fake compute provider and a fake
// image store holding "busybox" (Cmd sh, Env PATH and A=image).
type env struct {
	t       *testing.T
	b       *Backend
	pl      *fake.Provider
	images  *image.Backend
	store   *fakestore.Store
	busybox storage.Image
	clock   *clock
	events  *events.Service
}

// clock is a manual clock: each reading advances one second, so creation
// order is strict without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, pl: fake.New(), store: fakestore.New(), clock: &clock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}, events: events.New(0)}
	t.Cleanup(func() {
		if err := e.pl.Close(); err != nil {
			t.Error(err)
		}
	})
	var cfg dockerspec.DockerOCIImage
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg.Created = &created
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config = dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
		Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "A=image"}, Labels: map[string]string{"from": "image"},
	}}
	e.busybox = fakestore.Image(cfg, created, 1000)
	e.store.Local(e.busybox)
	refs, err := refstore.Open(filepath.Join(t.TempDir(), "refs.json"))
	if err != nil {
		t.Fatal(err)
	}
	e.images = image.New(e.store, refs, e.pl, nil)
	if err := e.images.TagImage(context.Background(), e.busybox.ID, "busybox", "latest"); err != nil {
		t.Fatal(err)
	}
	e.restart()
	return e
}

// restart builds a new backend over the same port layer, as a vchd restart.
func (e *env) restart() {
	e.t.Helper()
	if e.b != nil {
		e.b.Close()
	}
	b, err := New(context.Background(), Config{Compute: e.pl, Images: e.images, Now: e.clock.now, Events: e.events})
	if err != nil {
		e.t.Fatal(err)
	}
	e.b = b
	e.t.Cleanup(b.Close)
}

func (e *env) create(name string, cfg container.Config, hc *container.HostConfig) string {
	e.t.Helper()
	if cfg.Image == "" {
		cfg.Image = "busybox"
	}
	resp, err := e.b.ContainerCreate(context.Background(), containerrouter.CreateConfig{Name: name, Config: &cfg, HostConfig: hc})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.ID
}

func (e *env) inspect(ref string) *container.InspectResponse {
	e.t.Helper()
	r, err := e.b.ContainerInspect(context.Background(), ref, false)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) start(ref string) {
	e.t.Helper()
	if err := e.b.ContainerStart(context.Background(), ref); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) wait(ref string, cond container.WaitCondition) containerrouter.WaitResult {
	e.t.Helper()
	ch, err := e.b.ContainerWait(context.Background(), ref, cond)
	if err != nil {
		e.t.Fatal(err)
	}
	return <-ch
}

// streams is a StreamFunc capturing what the backend writes.
type streams struct {
	mu    sync.Mutex
	in    io.ReadCloser
	out   bytes.Buffer
	tty   bool
	calls int
}

func (s *streams) fn(tty bool) (io.ReadCloser, io.Writer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tty = tty
	s.calls++
	return s.in, s, nil
}

func (s *streams) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *streams) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.out.Bytes()...)
}
