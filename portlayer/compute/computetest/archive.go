package computetest

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// archive: docker cp in and out, stat, errors and diff, on a container
// that never ran (the provider reaches its disks without running it) and
// on a running one.
func (s *suite) archive(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep)
	t.Run("stopped", func(t *testing.T) { archiveChecks(ctx, t, p, id, "stopped") })
	if st := inspect(ctx, t, p, id).Status.State; st != compute.StateCreated {
		t.Fatalf("copying files changed the state to %s", st)
	}
	startOK(ctx, t, p, id)
	defer func() { _ = p.Kill(context.Background(), id) }()
	t.Run("running", func(t *testing.T) { archiveChecks(ctx, t, p, id, "running") })
}

func archiveChecks(ctx context.Context, t *testing.T, p compute.Provider, id, label string) {
	dir := "/cp-" + label
	body := "data of " + label
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	tw.WriteHeader(&tar.Header{Name: dir[1:] + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: dir[1:] + "/f", Typeflag: tar.TypeReg, Mode: 0o640, Size: int64(len(body))})
	tw.Write([]byte(body))
	tw.WriteHeader(&tar.Header{Name: dir[1:] + "/l", Typeflag: tar.TypeSymlink, Linkname: "f"})
	tw.Close()
	if err := p.ArchivePut(ctx, id, "/", &in, compute.PutOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	st, err := p.ArchiveStat(ctx, id, dir+"/l")
	if err != nil || st.LinkTarget != dir+"/f" || st.Name != "l" {
		t.Fatalf("stat of the symlink: %+v, %v", st, err)
	}
	var out bytes.Buffer
	err = p.ArchiveGet(ctx, id, dir, func(st compute.PathStat) (io.Writer, error) {
		if !st.Mode.IsDir() || st.Name != dir[1:] {
			t.Errorf("get: stat %+v", st)
		}
		return &out, nil
	})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	tr := tar.NewReader(&out)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("get: tar: %v", err)
		}
		if h.Name == dir[1:]+"/f" {
			b, _ := io.ReadAll(tr)
			found = string(b) == body && h.Mode&0o777 == 0o640
		}
	}
	if !found {
		t.Fatalf("get: the tar lacks %s/f with its content and mode", dir)
	}
	if _, err := p.ArchiveStat(ctx, id, "/no-such-path"); !errdefs.IsNotFound(err) {
		t.Fatalf("stat of a missing path: %v", err)
	}
	if err := p.ArchivePut(ctx, id, dir+"/f", bytes.NewReader(nil), compute.PutOptions{}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("put into a file: %v", err)
	}
	var bad bytes.Buffer
	tw = tar.NewWriter(&bad)
	tw.WriteHeader(&tar.Header{Name: "../../escaped", Typeflag: tar.TypeReg, Mode: 0o644})
	tw.Close()
	if err := p.ArchivePut(ctx, id, dir, &bad, compute.PutOptions{}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("put of a hostile archive: %v", err)
	}
	changes, err := p.Changes(ctx, id)
	if err != nil {
		t.Fatalf("changes: %v", err)
	}
	want := map[string]bool{dir: false, dir + "/f": false}
	for _, c := range changes {
		if _, ok := want[c.Path]; ok && c.Kind == compute.ChangeAdd {
			want[c.Path] = true
		}
		if c.Path == "/etc/hosts" || c.Path == "/escaped" {
			t.Errorf("changes list %s", c.Path)
		}
	}
	for p, ok := range want {
		if !ok {
			t.Errorf("changes lack A %s: %v", p, changes)
		}
	}
}
