package vscompute_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
	netfake "github.com/vchproject/vch/portlayer/network/fake"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
)

// TestPlugNIC: network connect of a running container hot-adds a vmxnet3
// NIC on the network's port group with the endpoint's MAC and its guest
// side in guestinfo; disconnect removes it again; a boot NIC cannot be
// unplugged; a container that is not running cannot be plugged.
func TestPlugNIC(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	nets := netfake.New()
	p, err := vscompute.New(vscompute.Config{
		Session: sim.Session(t), VCH: "plug", Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t),
		Network: nets, PortGroups: map[string]string{network.BridgeName: "DC0_DVPG0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nets.CreateNetwork(ctx, network.NetworkSpec{Name: "back", Subnet: netip.MustParsePrefix("10.77.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	back, err := nets.Network(ctx, "back")
	if err != nil {
		t.Fatal(err)
	}
	id := hexID('8')
	if err := p.Create(ctx, spec(id, "plug")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill(context.Background(), id); _ = p.Remove(context.Background(), id) })
	activate := func(mac string) (compute.NIC, error) {
		nic, err := nets.Activate(ctx, id, "back", mac)
		// The fake's host-side name is no port group: use one that exists.
		nic.Bridge = "VM Network"
		return nic, err
	}
	if _, err := nets.Join(ctx, id, network.EndpointSpec{Network: "back"}); err != nil {
		t.Fatal(err)
	}
	if err := p.PlugNIC(ctx, id, activate); !errdefs.IsConflict(err) {
		t.Fatalf("plug into a created container: %v", err)
	}
	if err := nets.Leave(ctx, id, "back"); err != nil {
		t.Fatal(err)
	}
	if _, err := nets.Join(ctx, id, network.EndpointSpec{Network: network.BridgeName}); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := nets.Join(ctx, id, network.EndpointSpec{Network: "back"}); err != nil {
		t.Fatal(err)
	}
	if err := p.PlugNIC(ctx, id, activate); err != nil {
		t.Fatal(err)
	}
	sess := sim.Session(t)
	vm, err := sess.Finder.VirtualMachine(ctx, "plug")
	if err != nil {
		t.Fatal(err)
	}
	cards := func() map[string]string {
		devs, err := vm.Device(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range devs.SelectByType((*types.VirtualVmxnet3)(nil)) {
			c := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			switch b := c.Backing.(type) {
			case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
				out[c.MacAddress] = b.Port.PortgroupKey
			case *types.VirtualEthernetCardNetworkBackingInfo:
				out[c.MacAddress] = b.Network.Value
			default:
				t.Fatalf("NIC backing %T", c.Backing)
			}
		}
		return out
	}
	eps, err := nets.Endpoints(ctx, id)
	if err != nil || len(eps) != 2 || !eps[1].Active || eps[1].Network != back.ID {
		t.Fatalf("endpoints %+v %v", eps, err)
	}
	pg1, err := sess.Finder.Network(ctx, "VM Network")
	if err != nil {
		t.Fatal(err)
	}
	got := cards()
	if len(got) != 2 || got[eps[1].MAC] != pg1.Reference().Value || got[eps[0].MAC] == "" {
		t.Fatalf("NICs after plug %v, endpoints %+v", got, eps)
	}
	var nics []compute.NIC
	if err := json.Unmarshal(decodeKey(t, ctx, vm, vscompute.KeyNICs), &nics); err != nil {
		t.Fatal(err)
	}
	if len(nics) != 2 || nics[1].MAC != eps[1].MAC || nics[1].Address != eps[1].Address {
		t.Fatalf("guestinfo NICs %+v", nics)
	}
	if err := p.UnplugNIC(ctx, id, eps[0].MAC); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("unplug a boot NIC: %v", err)
	}
	if err := p.UnplugNIC(ctx, id, eps[1].MAC); err != nil {
		t.Fatal(err)
	}
	if got := cards(); len(got) != 1 || got[eps[0].MAC] == "" {
		t.Fatalf("NICs after unplug %v", got)
	}
	if err := json.Unmarshal(decodeKey(t, ctx, vm, vscompute.KeyNICs), &nics); err != nil || len(nics) != 1 {
		t.Fatalf("guestinfo NICs after unplug %+v %v", nics, err)
	}
}
