package vsnetwork

import (
	"regexp"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// TestFreeLegMAC: a leg's MAC is in VMware's static range, stable for a
// network, and never one the endpoint's NICs already have.
func TestFreeLegMAC(t *testing.T) {
	static := regexp.MustCompile(`^00:50:56:[0-3][0-9a-f](:[0-9a-f]{2}){2}$`)
	card := func(mac string) types.BaseVirtualDevice {
		d, err := object.VirtualDeviceList{}.CreateEthernetCard("vmxnet3", &types.VirtualEthernetCardNetworkBackingInfo{})
		if err != nil {
			t.Fatal(err)
		}
		d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().MacAddress = mac
		return d
	}
	first, err := freeLegMAC(nil, "vch1", "net1")
	if err != nil || !static.MatchString(first) || first != legMAC("vch1", "net1", 0) {
		t.Fatalf("first MAC %q, %v", first, err)
	}
	if other := legMAC("vch1", "net2", 0); other == first {
		t.Fatalf("two networks' legs share MAC %s", first)
	}
	taken := object.VirtualDeviceList{card("00:50:56:aa:bb:cc"), card(first)}
	next, err := freeLegMAC(taken, "vch1", "net1")
	if err != nil || next == first || !static.MatchString(next) || next != legMAC("vch1", "net1", 1) {
		t.Fatalf("with %s taken: %q, %v", first, next, err)
	}
}
