package control

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/archive"
	"github.com/vchproject/vch/tether/control/controltest"
	"github.com/vchproject/vch/tether/proto"
)

// dirArchiver serves archive sessions from a directory with package
// archive, as the tether does from the container root.
type dirArchiver struct {
	dir      string
	stopping atomic.Bool
}

func (d *dirArchiver) Begin() (func(), error) {
	if d.stopping.Load() {
		return nil, errors.New(proto.ArchiveStopping)
	}
	return func() {}, nil
}

func (d *dirArchiver) with(f func(r *archive.Root) error) error {
	r, err := archive.OpenRoot(d.dir)
	if err != nil {
		return err
	}
	defer r.Close()
	return f(r)
}

func (d *dirArchiver) Stat(p string) (st proto.PathStat, err error) {
	err = d.with(func(r *archive.Root) error { st, err = r.Stat(p); return err })
	return st, err
}
func (d *dirArchiver) Get(p string, w io.Writer, started func(proto.PathStat) error) error {
	return d.with(func(r *archive.Root) error { return r.Get(p, w, started) })
}
func (d *dirArchiver) PutTarget(p string) (st proto.PathStat, err error) {
	err = d.with(func(r *archive.Root) error { _, st, err = r.PutTarget(p); return err })
	return st, err
}
func (d *dirArchiver) Put(p string, in io.Reader, uid, nod bool) error {
	return d.with(func(r *archive.Root) error {
		return r.Put(p, in, archive.PutOptions{CopyUIDGID: uid, NoOverwriteDirNonDir: nod})
	})
}
func (d *dirArchiver) Changes(w io.Writer) error {
	return json.NewEncoder(w).Encode(proto.Change{Path: "/x", Kind: proto.ChangeAdd})
}
func (d *dirArchiver) Layer(w io.Writer, _ bool) error { return archive.Layer(d.dir, nil, w) }
func (d *dirArchiver) Export(w io.Writer) error        { return archive.Export(d.dir, nil, w) }
func (d *dirArchiver) Size() (proto.Sizes, error)      { return proto.Sizes{RW: 42}, nil }
func (d *dirArchiver) Kind(err error) string {
	switch {
	case errors.Is(err, archive.ErrNotFound):
		return proto.ArchiveNotFound
	case errors.Is(err, archive.ErrInvalid), errors.Is(err, archive.ErrNotDir):
		return proto.ArchiveInvalid
	}
	return ""
}

type archiveSess struct {
	ch      ssh.Channel
	replies chan proto.ArchiveReply
}

func openArchive(t *testing.T, c *ssh.Client, spec proto.ArchiveSpec) (*archiveSess, error) {
	t.Helper()
	b, _ := json.Marshal(spec)
	ch, reqs, err := c.OpenChannel(proto.ChanArchive, b)
	if err != nil {
		return nil, err
	}
	s := &archiveSess{ch: ch, replies: make(chan proto.ArchiveReply, 4)}
	go func() {
		defer close(s.replies)
		for r := range reqs {
			var ar proto.ArchiveReply
			json.Unmarshal(r.Payload, &ar)
			s.replies <- ar
		}
	}()
	return s, nil
}

func (s *archiveSess) next(t *testing.T) proto.ArchiveReply {
	t.Helper()
	select {
	case r, ok := <-s.replies:
		if !ok {
			t.Fatal("channel closed without a reply")
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no reply")
	}
	return proto.ArchiveReply{}
}

func TestArchiveChannel(t *testing.T) {
	pemKey, pub := controltest.HostKey(t)
	srv, err := NewServer(pemKey, &fakeProc{}, func(int64) error { return nil }, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "dst"), 0o755)
	arch := &dirArchiver{dir: dir}
	srv.Archive = arch
	srv.HelloInterval = 5 * time.Millisecond
	srv.MinBackoff, srv.MaxBackoff = time.Millisecond, 5*time.Millisecond
	port := newPipePort()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, port)
	h := port.attach(t)
	defer h.Close()
	client := dialHost(t, h, pub)
	defer client.Close()

	body := bytes.Repeat([]byte("z"), 3<<20) // more than the SSH window
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()

	s, err := openArchive(t, client, proto.ArchiveSpec{Op: proto.ArchivePut, Path: "/dst"})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.next(t); r.Error != "" || r.Stat == nil || !r.Stat.Mode.IsDir() {
		t.Fatalf("put target: %+v", r)
	}
	// The goroutine gets this channel, not s, which the test reuses.
	go func(ch ssh.Channel) { io.Copy(ch, &in); ch.CloseWrite() }(s.ch)
	if r := s.next(t); r.Error != "" {
		t.Fatalf("put: %+v", r)
	}

	s, _ = openArchive(t, client, proto.ArchiveSpec{Op: proto.ArchiveGet, Path: "/dst/big"})
	if r := s.next(t); r.Stat == nil || r.Stat.Size != int64(len(body)) {
		t.Fatalf("get stat: %+v", r)
	}
	tr := tar.NewReader(s.ch)
	if hd, err := tr.Next(); err != nil || hd.Name != "big" {
		t.Fatalf("get: %v %v", hd, err)
	}
	got, _ := io.ReadAll(tr)
	if !bytes.Equal(got, body) {
		t.Fatalf("get: %d bytes back", len(got))
	}
	io.Copy(io.Discard, s.ch)
	if r := s.next(t); r.Error != "" {
		t.Fatalf("get done: %+v", r)
	}

	s, _ = openArchive(t, client, proto.ArchiveSpec{Op: proto.ArchiveStat, Path: "/nope"})
	if r := s.next(t); r.Kind != proto.ArchiveNotFound {
		t.Fatalf("stat missing: %+v", r)
	}

	var bad bytes.Buffer
	tw = tar.NewWriter(&bad)
	tw.WriteHeader(&tar.Header{Name: "../out", Mode: 0o600, Typeflag: tar.TypeReg})
	tw.Close()
	s, _ = openArchive(t, client, proto.ArchiveSpec{Op: proto.ArchivePut, Path: "/dst"})
	s.next(t)
	// The goroutine gets this channel, not s, which the test reuses.
	go func(ch ssh.Channel) { io.Copy(ch, &bad); ch.CloseWrite() }(s.ch)
	if r := s.next(t); r.Kind != proto.ArchiveInvalid {
		t.Fatalf("hostile put: %+v", r)
	}

	s, _ = openArchive(t, client, proto.ArchiveSpec{Op: proto.ArchiveSize})
	if r := s.next(t); r.Size == nil || r.Size.RW != 42 {
		t.Fatalf("size: %+v", r)
	}

	arch.stopping.Store(true)
	_, err = openArchive(t, client, proto.ArchiveSpec{Op: proto.ArchiveStat, Path: "/"})
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Message != proto.ArchiveStopping {
		t.Fatalf("open while stopping: %v", err)
	}
}
