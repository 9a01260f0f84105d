package vsession_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
)

// TestOpenNamesWhatIsMissing: an unknown datacenter, pool or folder is
// NotFound naming it; a good config opens.
func TestOpenNamesWhatIsMissing(t *testing.T) {
	sim := vsimtest.Shared(t)
	ctx := context.Background()
	for name, edit := range map[string]func(*vsession.Config){
		`datacenter "/DC9"`: func(c *vsession.Config) { c.Datacenter = "/DC9" },
		`resource pool "/DC0/host/DC0_C0/Resources/nope"`: func(c *vsession.Config) { c.Pool = "/DC0/host/DC0_C0/Resources/nope" },
		`folder "/DC0/vm/nope"`:                           func(c *vsession.Config) { c.Folder = "/DC0/vm/nope" },
	} {
		cfg := sim.Config
		edit(&cfg)
		_, err := vsession.Open(ctx, cfg, nil)
		if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), name) {
			t.Errorf("open with a bad %s: %v, want NotFound naming it", name, err)
		}
	}
	s := sim.Session(t)
	if s.Pool == nil || s.Folder == nil || s.Datacenter == nil {
		t.Fatalf("session %+v", s)
	}
}
