package backed

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
)

// TestMaintenanceBootThenStartRemove: a Start or a Remove that comes
// while a maintenance boot serves docker cp on a container that is not
// running (as `docker cp ctr:/f . && docker rm ctr` does: the CLI is done
// once it read the tar, the server still powers the VM off) waits for the
// boot to end and then goes on, instead of a 409. The Wait(WaitRemoved)
// registered before the run reports that run's exit code (3).
func TestMaintenanceBootThenStartRemove(t *testing.T) {
	p, _ := tetherVCH(t, "maint")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// cpDuring copies /etc/passwd out of id and runs op while the copy is
	// in flight (its stat came, the tar did not yet), returning op's error.
	cpDuring := func(id string, op func() error) error {
		opErr := make(chan error, 1)
		err := p.ArchiveGet(ctx, id, "/etc/passwd", func(st compute.PathStat) (io.Writer, error) {
			if st.Name != "passwd" {
				t.Errorf("cp: stat %+v", st)
			}
			go func() { opErr <- op() }()
			return io.Discard, nil
		})
		if err != nil {
			t.Fatalf("cp out of %s: %v", id, err)
		}
		return <-opErr
	}

	// Remove during the copy from an exited container.
	exited := strings.Repeat("e3", 32)
	if err := p.Create(ctx, compute.Spec{ID: exited, Name: "maint-exited", Image: "sha256:00", Process: compute.Process{Args: []string{"sh", "-c", "exit 3"}}}); err != nil {
		t.Fatal(err)
	}
	removed := vsimtest.WaitRemoved(ctx, t, p, exited)
	if err := p.Start(ctx, exited); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(ctx, exited, compute.WaitNotRunning); err != nil || st.ExitCode != 3 {
		t.Fatalf("run: %+v %v, want exit 3", st, err)
	}
	if err := cpDuring(exited, func() error { return p.Remove(ctx, exited) }); err != nil {
		t.Fatalf("remove during a maintenance boot: %v", err)
	}
	if r := <-removed; r.Err != nil || r.Status.State != compute.StateExited || r.Status.ExitCode != 3 {
		t.Fatalf("wait removed: %+v %v, want exited 3", r.Status, r.Err)
	}

	// Start during the copy from a created container.
	created := strings.Repeat("c5", 32)
	if err := p.Create(ctx, compute.Spec{ID: created, Name: "maint-created", Image: "sha256:00", Process: compute.Process{Args: []string{"sleep", "600"}}}); err != nil {
		t.Fatal(err)
	}
	if err := cpDuring(created, func() error { return p.Start(ctx, created) }); err != nil {
		t.Fatalf("start during a maintenance boot: %v", err)
	}
	if c, err := p.Inspect(ctx, created); err != nil || c.Status.State != compute.StateRunning {
		t.Fatalf("after the start: %+v %v, want running", c.Status, err)
	}
	if err := p.Kill(ctx, created); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(ctx, created, compute.WaitNotRunning); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(ctx, created); err != nil {
		t.Fatal(err)
	}
}
