package network

import (
	"net/netip"
	"testing"

	"github.com/vchproject/vch/errdefs"
)

func TestPoolSkipsGatewayAndExhausts(t *testing.T) {
	p, err := NewPool(netip.MustParsePrefix("10.9.0.0/29"), netip.MustParseAddr("10.9.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 5; i++ {
		a, err := p.Allocate("c")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	if want := "10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6"; join(got) != want {
		t.Fatalf("allocated %s, want %s", join(got), want)
	}
	if _, err := p.Allocate("c"); !errdefs.IsConflict(err) {
		t.Fatalf("exhausted pool: %v", err)
	}
	p.Release(netip.MustParseAddr("10.9.0.4"))
	if a, _ := p.Allocate("d"); a.String() != "10.9.0.4" {
		t.Fatalf("reuse: %s", a)
	}
	if err := p.Claim(netip.MustParseAddr("10.9.0.1"), "x"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("claim gateway: %v", err)
	}
	if err := p.Claim(netip.MustParseAddr("10.9.0.2"), "x"); !errdefs.IsConflict(err) {
		t.Fatalf("claim taken: %v", err)
	}
	if _, err := NewPool(netip.MustParsePrefix("10.9.0.0/24"), netip.MustParseAddr("10.8.0.1")); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("gateway outside: %v", err)
	}
}

func TestRangePool(t *testing.T) {
	sub, gw := netip.MustParsePrefix("10.9.0.0/24"), netip.MustParseAddr("10.9.0.1")
	p, err := NewRangePool(sub, gw, netip.MustParsePrefix("10.9.0.128/31"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"10.9.0.128", "10.9.0.129"} {
		if a, err := p.Allocate("c"); err != nil || a.String() != want {
			t.Fatalf("allocate %s, %v; want %s", a, err, want)
		}
	}
	if _, err := p.Allocate("c"); !errdefs.IsConflict(err) {
		t.Fatalf("exhausted range: %v", err)
	}
	// A static address may be anywhere usable in the subnet.
	if err := p.Claim(netip.MustParseAddr("10.9.0.7"), "s"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"10.9.1.7", "10.9.0.0", "10.9.0.255"} {
		if err := p.Claim(netip.MustParseAddr(bad), "s"); !errdefs.IsInvalidParameter(err) {
			t.Fatalf("claim %s: %v", bad, err)
		}
	}
	if _, err := NewRangePool(sub, gw, netip.MustParsePrefix("10.8.0.0/25")); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("range outside: %v", err)
	}
}

func TestSubnetsOf(t *testing.T) {
	subs := SubnetsOf(DefaultBridgeRange, 16)
	if len(subs) != 16 || subs[0].String() != "172.16.0.0/16" || subs[15].String() != "172.31.0.0/16" {
		t.Fatalf("subnets %v", subs)
	}
	if MACFor(netip.MustParseAddr("172.16.0.2")) != "02:42:ac:10:00:02" {
		t.Fatal("MACFor")
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// The bridge's subnet is the configured range if it is /16 or smaller,
// else its first /16 (the default range gives 172.16.0.0/16); the gateway
// is its .1.
func TestBridgeSubnet(t *testing.T) {
	for _, c := range []struct {
		rng    netip.Prefix
		subnet string
		gw     string
	}{
		{netip.Prefix{}, "172.16.0.0/16", "172.16.0.1"},
		{DefaultBridgeRange, "172.16.0.0/16", "172.16.0.1"},
		{netip.MustParsePrefix("10.0.0.0/8"), "10.0.0.0/16", "10.0.0.1"},
		{netip.MustParsePrefix("192.168.77.0/24"), "192.168.77.0/24", "192.168.77.1"},
		{netip.MustParsePrefix("10.20.5.9/16"), "10.20.0.0/16", "10.20.0.1"},
		{netip.MustParsePrefix("172.24.0.0/13"), "172.24.0.0/16", "172.24.0.1"},
	} {
		subnet, gw := BridgeSubnet(c.rng)
		if subnet.String() != c.subnet || gw.String() != c.gw {
			t.Errorf("BridgeSubnet(%v) = %v, %v; want %s, %s", c.rng, subnet, gw, c.subnet, c.gw)
		}
	}
}
