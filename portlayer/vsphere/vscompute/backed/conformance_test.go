package backed

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/computetest"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
)

// tetherImage builds the tether (static) and imports it with busybox
// as the backing image (vsimtest.TetherImage).
// tetherVCH is a provider of a VCH of its own (name plus a sequence
// number) on an out-of-process simulator whose docker-backed VMs run the
// tether (image vch-tether:name on a dockerd of the test's), closed at the
// test's end, and that simulator.
func tetherVCH(t *testing.T, name string) (*vscompute.Provider, *vsimtest.Sim) {
	t.Helper()
	d := vsimtest.StartDockerd(t)
	tetherImage(t, d, "vch-tether:"+name)
	sim := vsimtest.External(t)
	p, err := vscompute.New(vscompute.Config{
		Session: sim.Session(t), VCH: name + strconv.FormatInt(vchSeq.Add(1), 10), Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t),
		Backing: []string{"vch-tether:" + name, "/tether"},
		Serial:  freeAddr(t), LogDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, sim
}

func tetherImage(t *testing.T, d *vsimtest.Dockerd, name string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tether")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/vchproject/vch/cmd/tether")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the tether: %v\n%s", err, out)
	}
	vsimtest.TetherImage(t, d, name, bin)
}

var vchSeq atomic.Int64

// freeAddr is a loopback address no one listens on now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestConformance runs the compute suite against vscompute with
// docker-backed VMs whose tether reads its config from guestinfo
// (VMX_GUESTINFO_*) and dials the provider's serial concentrator.
func TestConformance(t *testing.T) {
	d := vsimtest.StartDockerd(t)
	tetherImage(t, d, "vch-tether:test")
	sim := vsimtest.External(t)
	type vch struct{ name, addr, logs string }
	var mu sync.Mutex
	vchs := map[*testing.T]vch{}
	factory := func(t *testing.T) compute.Provider {
		mu.Lock()
		v, ok := vchs[t]
		if !ok {
			v = vch{name: "conf" + time.Now().UTC().Format("150405") + "-" + strconv.FormatInt(vchSeq.Add(1), 10), addr: freeAddr(t), logs: t.TempDir()}
			vchs[t] = v
		}
		mu.Unlock()
		p, err := vscompute.New(vscompute.Config{
			Session: sim.Session(t), VCH: v.name, Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t),
			Backing: []string{"vch-tether:test", "/tether"},
			Serial:  v.addr, LogDir: v.logs, Debug: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	computetest.Run(t, factory, "sha256:0000000000000000000000000000000000000000000000000000000000000000", computetest.WithTimeout(5*time.Minute),
		computetest.Without("a VMDK volume has one writer: a second running VM is refused with ErrVolumeInUse "+
			"(vscompute's TestVolumeHeldByOneRunningVM covers it)", "VolumeShared"))
}

// TestConformanceNetwork runs the compute suite's network cases, with no
// opt-outs, on docker-backed VMs whose tether runs the process: the
// process exits on its own, a missing command fails the start, and a
// failing Attach fails it before the VM is on.
func TestConformanceNetwork(t *testing.T) {
	d := vsimtest.StartDockerd(t)
	tetherImage(t, d, "vch-tether:net")
	sim := vsimtest.External(t)
	computetest.RunNetwork(t, func(t *testing.T, na compute.NetworkAttacher) compute.Provider {
		p, err := vscompute.New(vscompute.Config{
			Session: sim.Session(t), VCH: "net" + strconv.FormatInt(vchSeq.Add(1), 10), Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t),
			Backing: []string{"vch-tether:net", "/tether"},
			Serial:  freeAddr(t), LogDir: t.TempDir(), Network: na,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}, "sha256:0000000000000000000000000000000000000000000000000000000000000000")
}
