package vsimtest

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/tests/vcsim/simproc"
)

// The vcsim command (tests/vcsim), built once per test binary without
// the race detector.
var (
	vcsimOnce sync.Once
	vcsimBin  string
	vcsimErr  error
)

// External starts a simulator of the same model as Shared in a process
// of its own, stopped when t ends, and returns it (Model and Server are
// nil). Tests of docker-backed VMs use it: govmomi's simulator (v0.56.0)
// races with itself when a backing container goes away while a Destroy
// of its VM runs (its container watcher destroys the VM a second time),
// and under -race that would fail our tests for the simulator's bug.
// Out of process, the simulator is what vCenter is to vchd, an outside
// system; our code stays under the race detector. Its environment is
// this process's now (DOCKER_HOST of StartDockerd, TMPDIR of Main), so
// start it after StartDockerd.
func External(t *testing.T) *Sim {
	t.Helper()
	vcsimOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vch-vcsim-bin-")
		if err != nil {
			vcsimErr = err
			return
		}
		vcsimBin = filepath.Join(dir, "vcsim")
		cmd := exec.Command("go", "build", "-o", vcsimBin, "github.com/vchproject/vch/tests/vcsim")
		if out, err := cmd.CombinedOutput(); err != nil {
			vcsimErr = &buildError{err: err, out: string(out)}
		}
	})
	if vcsimErr != nil {
		t.Fatalf("build the simulator command: %v", vcsimErr)
	}
	const user, pass = "vch-test", "vch-test"
	p := simproc.Start(t, vcsimBin, user, pass)
	u := url.URL{Scheme: "https", User: url.UserPassword(user, pass), Host: p.Host, Path: "/sdk"}
	return &Sim{Config: vsession.Config{
		URL:        u.String(),
		Thumbprint: p.Thumbprint,
		Datacenter: "/DC0",
		Pool:       "/DC0/host/DC0_C0/Resources",
	}}
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
