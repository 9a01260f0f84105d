// Package vsimtest starts govmomi's vCenter simulator in-process for the
// vSphere providers' tests and opens sessions on it.
package vsimtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/vsphere/vsession"
)

// Sim is one simulated vCenter (datacenter DC0, cluster DC0_C0 with its
// pool, datastore LocalDS_0, port groups "VM Network" and DC0_DVPG0).
type Sim struct {
	Model  *simulator.Model
	Server *simulator.Server
	Config vsession.Config
}

// The simulator keeps package-level state, so two of them in one process
// race (seen with -race); a test binary shares one, started on first use.
var (
	shared     *Sim
	sharedOnce sync.Once
	sharedErr  error
)

// Shared returns the process's simulator. Tests that share it keep to
// their own names (folders, VMs).
func Shared(t *testing.T) *Sim {
	t.Helper()
	sharedOnce.Do(func() {
		m := simulator.VPX()
		if sharedErr = m.Create(); sharedErr != nil {
			return
		}
		srv := m.Service.NewServer()
		shared = &Sim{Model: m, Server: srv, Config: vsession.Config{
			URL:        srv.URL.String(),
			Insecure:   true,
			Datacenter: "/DC0",
			Pool:       "/DC0/host/DC0_C0/Resources",
		}}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// Session opens a session on the simulator, logged out when t ends.
func (s *Sim) Session(t *testing.T, edit ...func(*vsession.Config)) *vsession.Session {
	t.Helper()
	cfg := s.Config
	for _, e := range edit {
		e(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := vsession.Open(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close(context.Background()) })
	return sess
}
