package vscompute_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/computetest"
	"github.com/vchproject/vch/portlayer/network"
	netfake "github.com/vchproject/vch/portlayer/network/fake"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/tether/proto"
)

// TestNICsOnPortGroups: a container on the bridge network boots with one
// vmxnet3 NIC on the bridge's port group, with the port layer's MAC, and
// its address in guestinfo; the kill releases the address.
func TestNICsOnPortGroups(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	nets := netfake.New()
	p, err := vscompute.New(vscompute.Config{
		Session: sim.Session(t), VCH: "nics", Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t),
		Network: nets, PortGroups: map[string]string{network.BridgeName: "DC0_DVPG0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := hexID('7')
	if err := p.Create(ctx, spec(id, "nics")); err != nil {
		t.Fatal(err)
	}
	if _, err := nets.Join(ctx, id, network.EndpointSpec{Network: network.BridgeName}); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	eps, err := nets.Endpoints(ctx, id)
	if err != nil || len(eps) != 1 || !eps[0].Active {
		t.Fatalf("endpoints after start %+v %v", eps, err)
	}
	ep := eps[0]

	sess := sim.Session(t)
	vm, err := sess.Finder.VirtualMachine(ctx, "nics")
	if err != nil {
		t.Fatal(err)
	}
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cards := devs.SelectByType((*types.VirtualVmxnet3)(nil))
	if len(cards) != 1 {
		t.Fatalf("%d vmxnet3 NICs, want 1", len(cards))
	}
	card := cards[0].(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
	if card.MacAddress != ep.MAC {
		t.Errorf("NIC MAC %s, endpoint's %s", card.MacAddress, ep.MAC)
	}
	pg, err := sess.Finder.Network(ctx, "DC0_DVPG0")
	if err != nil {
		t.Fatal(err)
	}
	b, ok := card.Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo)
	if !ok || b.Port.PortgroupKey != pg.Reference().Value {
		t.Errorf("NIC backing %#v, want the port group %s", card.Backing, pg.Reference().Value)
	}
	var nics []compute.NIC
	if err := json.Unmarshal(decodeKey(t, ctx, vm, vscompute.KeyNICs), &nics); err != nil {
		t.Fatal(err)
	}
	if len(nics) != 1 || nics[0].Address != ep.Address || nics[0].MAC != ep.MAC {
		t.Fatalf("guestinfo NICs %+v, endpoint %+v", nics, ep)
	}
	// The tether reads the same value (proto.ParseGuestNICs).
	ifs, err := proto.ParseGuestNICs(base64.RawURLEncoding.EncodeToString(decodeKey(t, ctx, vm, proto.GuestinfoNICs)))
	if err != nil {
		t.Fatal(err)
	}
	want := proto.Interface{MAC: ep.MAC, Address: ep.Address.String(), Gateway: nics[0].Gateway.String()}
	for _, d := range nics[0].DNS {
		want.DNS = append(want.DNS, d.String())
	}
	if len(ifs) != 1 || !reflect.DeepEqual(ifs[0], want) || !nics[0].Gateway.IsValid() || len(want.DNS) == 0 {
		t.Fatalf("the tether's interfaces %+v, want %+v", ifs, want)
	}

	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	if eps, _ := nets.Endpoints(ctx, id); len(eps) != 1 || eps[0].Active {
		t.Fatalf("endpoint after kill %+v, want inactive", eps)
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func decodeKey(t *testing.T, ctx context.Context, vm *object.VirtualMachine, key string) []byte {
	t.Helper()
	var m mvmT
	if err := vm.Properties(ctx, vm.Reference(), []string{"config.extraConfig"}, &m); err != nil {
		t.Fatal(err)
	}
	for _, o := range m.Config.ExtraConfig {
		if ov := o.GetOptionValue(); ov.Key == key {
			b, err := base64.RawURLEncoding.DecodeString(ov.Value.(string))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no %s in extraConfig", key)
	return nil
}

// TestConformanceNetwork runs the compute suite's network cases; the
// plain simulator's VMs run no process, so the cases that need one to
// exit or fail on its own run in package backed (TestConformanceNetwork
// there, on docker-backed VMs with a tether).
func TestConformanceNetwork(t *testing.T) {
	f := open(t)
	computetest.RunNetwork(t, func(t *testing.T, na compute.NetworkAttacher) compute.Provider {
		p := f(t).(*vscompute.Provider)
		return p.WithNetwork(na)
	}, "sha256:00", computetest.WithoutProcess("needs a process in the VM: this run has no docker-backed VMs; see package backed (TestConformanceNetwork there)", "DetachAfterExit", "DetachAfterStartFailure", "AttachFailureFailsStart"))
}

// TestOpenDetachesLostRuns: a VM that was powered off while no vchd ran
// (here: by someone else) is an ended run when the provider opens: its
// endpoint is released and the run recorded as exited 255.
func TestOpenDetachesLostRuns(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	nets := netfake.New()
	cfg := vscompute.Config{
		Session: sim.Session(t), VCH: "lost", Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t),
		Network: nets, PortGroups: map[string]string{network.BridgeName: "DC0_DVPG0"},
	}
	p, err := vscompute.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := hexID('6')
	if err := p.Create(ctx, spec(id, "lost")); err != nil {
		t.Fatal(err)
	}
	if _, err := nets.Join(ctx, id, network.EndpointSpec{Network: network.BridgeName}); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	vm, err := sim.Session(t).Finder.VirtualMachine(ctx, "lost")
	if err != nil {
		t.Fatal(err)
	}
	task, err := vm.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Session = sim.Session(t) // the restarted vchd's
	q, err := vscompute.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if eps, _ := nets.Endpoints(ctx, id); len(eps) != 1 || eps[0].Active {
		t.Fatalf("endpoint after recovery %+v, want inactive", eps)
	}
	c, err := q.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.State != compute.StateExited || c.Status.ExitCode != 255 || c.Status.FinishedAt.IsZero() {
		t.Fatalf("recovered status %+v", c.Status)
	}
	if err := q.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
}
