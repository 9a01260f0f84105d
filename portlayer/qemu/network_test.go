package qemu

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

func TestNICArgsAndGuestConfig(t *testing.T) {
	nics := []compute.NIC{
		{Network: "bridge", Bridge: "vchb0", MAC: "02:42:ac:10:00:02", Address: netip.MustParsePrefix("172.16.0.2/16"), Gateway: netip.MustParseAddr("172.16.0.1"), MTU: 1400},
		{Network: "other", Bridge: "br1", MAC: "02:42:0a:00:00:05"},
	}
	args := qemuArgs(launchSpec{Accel: AccelTCG, NICs: nics})
	tail := args[len(args)-8:]
	want := []string{
		"-netdev", "tap,id=n0,fd=3", "-device", "virtio-net-device,netdev=n0,mac=02:42:ac:10:00:02",
		"-netdev", "tap,id=n1,fd=4", "-device", "virtio-net-device,netdev=n1,mac=02:42:0a:00:00:05",
	}
	if !reflect.DeepEqual(tail, want) {
		t.Fatalf("NIC args %q", tail)
	}
	got := guestInterfaces(nics)
	wantIfs := []proto.Interface{
		{MAC: "02:42:ac:10:00:02", Address: "172.16.0.2/16", Gateway: "172.16.0.1", MTU: 1400},
		{MAC: "02:42:0a:00:00:05"},
	}
	if !reflect.DeepEqual(got, wantIfs) {
		t.Fatalf("guest interfaces %+v", got)
	}
	if e, ok := selfHostEntry(nics, "web", "example.com"); !ok || e.IP != "172.16.0.2" || !reflect.DeepEqual(e.Names, []string{"web.example.com", "web"}) {
		t.Fatalf("self host entry %+v", e)
	}
	if _, ok := selfHostEntry(nil, "web", ""); ok {
		t.Fatal("host entry without a NIC")
	}
	if n := tapName("0123456789abcdef"+"0123456789abcdef0123456789abcdef0123456789abcdef", 1); n != "vt0123456789a1" || len(n) > 15 {
		t.Fatalf("tap name %q", n)
	}
}

func TestNameServers(t *testing.T) {
	gw := netip.MustParseAddr("10.77.0.1")
	nics := []compute.NIC{{Network: "a", DNS: []netip.Addr{gw}}, {Network: "bridge"}, {Network: "b", DNS: []netip.Addr{gw}}}
	if got := nameServers(nil, nics); !reflect.DeepEqual(got, []string{"10.77.0.1"}) {
		t.Fatalf("from NICs: %v", got)
	}
	if got := nameServers([]string{"192.0.2.53"}, nics); !reflect.DeepEqual(got, []string{"10.77.0.1"}) {
		t.Fatalf("--dns on a user-defined network (the DNS forwards to it): %v", got)
	}
	if got := nameServers(nil, nics[1:2]); got != nil {
		t.Fatalf("bridge only: %v", got)
	}
	if got := nameServers([]string{"192.0.2.53"}, nics[1:2]); !reflect.DeepEqual(got, []string{"192.0.2.53"}) {
		t.Fatalf("--dns on the bridge: %v", got)
	}
}
