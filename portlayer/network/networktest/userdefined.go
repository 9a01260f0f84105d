package networktest

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/network"
)

func create(t *testing.T, p network.Provider, spec network.NetworkSpec) network.Network {
	t.Helper()
	n, err := p.CreateNetwork(context.Background(), spec)
	if err != nil {
		t.Fatalf("create network %s: %v", spec.Name, err)
	}
	return n
}

func joinSpec(t *testing.T, p network.Provider, c string, spec network.EndpointSpec) {
	t.Helper()
	if _, err := p.Join(context.Background(), c, spec); err != nil {
		t.Fatalf("join %s to %s: %v", c[:2], spec.Network, err)
	}
}

func netCount(t *testing.T, p network.Provider) int {
	t.Helper()
	nets, err := p.Networks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(nets)
}

func testCreateNetwork(t *testing.T, in Instance) {
	p, ctx := in.Provider, context.Background()
	br := bridge(t, p)
	n := create(t, p, network.NetworkSpec{Name: "front", Subnet: netip.MustParsePrefix("10.77.0.0/24"), Labels: map[string]string{"a": "b"}})
	if len(n.ID) != 64 || n.Name != "front" || n.Driver != "bridge" || !n.UserDefined || !n.SubnetGiven ||
		n.Gateway != netip.MustParseAddr("10.77.0.1") || n.Bridge == "" || n.Bridge == br.Bridge || n.Labels["a"] != "b" {
		t.Fatalf("created %+v", n)
	}
	if got, err := p.Network(ctx, "front"); err != nil || got.ID != n.ID {
		t.Fatalf("Network(front) = %+v, %v", got, err)
	}
	auto := create(t, p, network.NetworkSpec{Name: "auto"})
	if !auto.Subnet.IsValid() || auto.Subnet.Overlaps(br.Subnet) || auto.Subnet.Overlaps(n.Subnet) || auto.SubnetGiven || !auto.Subnet.Contains(auto.Gateway) {
		t.Fatalf("automatic subnet %+v (bridge %s)", auto, br.Subnet)
	}
	before := netCount(t, p)
	for _, tc := range []struct {
		name  string
		spec  network.NetworkSpec
		class func(error) bool
	}{
		{"duplicate name", network.NetworkSpec{Name: "front"}, errdefs.IsConflict},
		{"overlapping subnet", network.NetworkSpec{Name: "o", Subnet: netip.MustParsePrefix("10.77.0.128/25")}, errdefs.IsForbidden},
		{"overlapping the bridge", network.NetworkSpec{Name: "o", Subnet: br.Subnet}, errdefs.IsForbidden},
		{"gateway outside", network.NetworkSpec{Name: "g", Subnet: netip.MustParsePrefix("10.78.0.0/24"), Gateway: netip.MustParseAddr("10.79.0.1")}, errdefs.IsInvalidParameter},
		{"ip-range outside", network.NetworkSpec{Name: "r", Subnet: netip.MustParsePrefix("10.78.0.0/24"), IPRange: netip.MustParsePrefix("10.79.0.0/28")}, errdefs.IsInvalidParameter},
		{"unknown driver", network.NetworkSpec{Name: "d", Driver: "overlay"}, errdefs.IsNotFound},
	} {
		if _, err := p.CreateNetwork(ctx, tc.spec); !tc.class(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if after := netCount(t, p); after != before {
		t.Fatalf("failed creates left networks: %d, before %d", after, before)
	}
	// The refused subnet is still free.
	create(t, p, network.NetworkSpec{Name: "g", Subnet: netip.MustParsePrefix("10.78.0.0/24")})
}

func testRemoveNetwork(t *testing.T, in Instance) {
	p, ctx := in.Provider, context.Background()
	if err := p.RemoveNetwork(ctx, network.BridgeName); !errdefs.IsForbidden(err) {
		t.Fatalf("remove bridge: %v", err)
	}
	n := create(t, p, network.NetworkSpec{Name: "gone", Subnet: netip.MustParsePrefix("10.77.0.0/24")})
	joinSpec(t, p, c1, network.EndpointSpec{Network: "gone"})
	if err := p.RemoveNetwork(ctx, "gone"); !errdefs.IsForbidden(err) {
		t.Fatalf("remove a joined network: %v", err)
	}
	if err := p.Leave(ctx, c1, ""); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveNetwork(ctx, n.ID[:12]); err != nil {
		t.Fatalf("remove by ID prefix: %v", err)
	}
	if _, err := p.Network(ctx, "gone"); !errdefs.IsNotFound(err) {
		t.Fatalf("removed network found: %v", err)
	}
	if err := p.RemoveNetwork(ctx, "gone"); !errdefs.IsNotFound(err) {
		t.Fatalf("remove twice: %v", err)
	}
	// Its subnet can be used again.
	create(t, p, network.NetworkSpec{Name: "again", Subnet: netip.MustParsePrefix("10.77.0.0/24")})
}

func testStaticAndRange(t *testing.T, in Instance) {
	p, ctx := in.Provider, context.Background()
	create(t, p, network.NetworkSpec{Name: "r", Subnet: netip.MustParsePrefix("10.77.0.0/24"), IPRange: netip.MustParsePrefix("10.77.0.128/31")})
	static := netip.MustParseAddr("10.77.0.10")
	if _, err := p.Join(ctx, c1, network.EndpointSpec{Network: "r", IPv4: netip.MustParseAddr("10.78.0.10")}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("static address outside the subnet: %v", err)
	}
	if _, err := p.Join(ctx, c1, network.EndpointSpec{Network: network.BridgeName, IPv4: bridge(t, p).Gateway.Next().Next()}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("static address on the bridge network: %v", err)
	}
	if eps := endpoints(t, p, c1); len(eps) != 0 {
		t.Fatalf("refused joins left %+v", eps)
	}
	joinSpec(t, p, c1, network.EndpointSpec{Network: "r", IPv4: static})
	if e := attach(t, p, c1); e.Address.Addr() != static || e.Address.Bits() != 24 {
		t.Fatalf("static endpoint %+v", e)
	}
	joinSpec(t, p, c2, network.EndpointSpec{Network: "r", IPv4: static})
	if _, err := p.Attach(ctx, c2); !errdefs.IsConflict(err) {
		t.Fatalf("static address taken: %v", err)
	}
	if eps := endpoints(t, p, c2); len(eps) != 1 || eps[0].Active {
		t.Fatalf("failed attach left %+v", eps)
	}
	if err := p.Leave(ctx, c2, ""); err != nil {
		t.Fatal(err)
	}
	// Dynamic addresses come from the range, until it is exhausted.
	var got []string
	for _, c := range []string{c2, c3} {
		joinSpec(t, p, c, network.EndpointSpec{Network: "r"})
		got = append(got, attach(t, p, c).Address.Addr().String())
	}
	if !slices.Equal(got, []string{"10.77.0.128", "10.77.0.129"}) {
		t.Fatalf("range addresses %v", got)
	}
	c4 := "c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4"
	joinSpec(t, p, c4, network.EndpointSpec{Network: "r"})
	if _, err := p.Attach(ctx, c4); !errdefs.IsConflict(err) {
		t.Fatalf("exhausted range: %v", err)
	}
	if eps := endpoints(t, p, c4); len(eps) != 1 || eps[0].Active {
		t.Fatalf("failed attach left %+v", eps)
	}
}

func testMultipleNetworks(t *testing.T, in Instance) {
	p := in.Provider
	create(t, p, network.NetworkSpec{Name: "a", Subnet: netip.MustParsePrefix("10.77.0.0/24")})
	create(t, p, network.NetworkSpec{Name: "b", Subnet: netip.MustParsePrefix("10.78.0.0/24")})
	joinSpec(t, p, c1, network.EndpointSpec{Network: "a"})
	joinSpec(t, p, c1, network.EndpointSpec{Network: "b"})
	nics, err := p.Attach(context.Background(), c1)
	if err != nil {
		t.Fatal(err)
	}
	if len(nics) != 2 || nics[0].Network != "a" || nics[1].Network != "b" || nics[0].Bridge == nics[1].Bridge ||
		nics[0].Gateway != netip.MustParseAddr("10.77.0.1") || nics[1].Gateway.IsValid() || nics[0].MAC == nics[1].MAC ||
		len(nics[0].DNS) != 1 || nics[0].DNS[0] != nics[0].Gateway {
		t.Fatalf("NICs %+v", nics)
	}
	// The default bridge's DNS only forwards; a container with its own
	// servers (--dns) is not offered it there.
	br := bridge(t, p)
	joinSpec(t, p, c2, network.EndpointSpec{Network: network.BridgeName})
	if nics, err := p.Attach(context.Background(), c2); err != nil || len(nics) != 1 || len(nics[0].DNS) != 1 || nics[0].DNS[0] != br.Gateway {
		t.Fatalf("bridge NICs %+v, %v", nics, err)
	}
	joinSpec(t, p, c3, network.EndpointSpec{Network: network.BridgeName, Upstreams: []netip.Addr{netip.MustParseAddr("192.0.2.53")}})
	if nics, err := p.Attach(context.Background(), c3); err != nil || len(nics) != 1 || len(nics[0].DNS) != 0 {
		t.Fatalf("bridge NICs with --dns %+v, %v", nics, err)
	}
}

func testResolve(t *testing.T, in Instance) {
	p, ctx := in.Provider, context.Background()
	create(t, p, network.NetworkSpec{Name: "a", Subnet: netip.MustParsePrefix("10.77.0.0/24")})
	create(t, p, network.NetworkSpec{Name: "b", Subnet: netip.MustParsePrefix("10.78.0.0/24")})
	joinSpec(t, p, c1, network.EndpointSpec{Network: "a", DNSNames: []string{"web", c1[:12]}, Upstreams: []netip.Addr{netip.MustParseAddr("192.0.2.53")}})
	joinSpec(t, p, c2, network.EndpointSpec{Network: "a", DNSNames: []string{"db", c2[:12], "Store"}})
	joinSpec(t, p, c3, network.EndpointSpec{Network: "b", DNSNames: []string{"other"}})
	e1, e2, e3 := attach(t, p, c1), attach(t, p, c2), attach(t, p, c3)
	from := e1.Address.Addr()
	for _, q := range []string{"db", "db.", "DB", c2[:12], "store"} {
		addrs, err := p.Resolve(ctx, from, q)
		if err != nil || len(addrs) != 1 || addrs[0] != e2.Address.Addr() {
			t.Fatalf("resolve %q from c1: %v, %v", q, addrs, err)
		}
	}
	if addrs, err := p.Resolve(ctx, from, "web"); err != nil || len(addrs) != 1 || addrs[0] != from {
		t.Fatalf("own name: %v, %v", addrs, err)
	}
	if _, err := p.Resolve(ctx, from, "other"); !errdefs.IsNotFound(err) {
		t.Fatalf("a name on another network: %v", err)
	}
	if _, err := p.Resolve(ctx, e3.Address.Addr(), "db"); !errdefs.IsNotFound(err) {
		t.Fatalf("from another network: %v", err)
	}
	if _, err := p.Resolve(ctx, netip.MustParseAddr("192.0.2.1"), "db"); !errdefs.IsNotFound(err) {
		t.Fatalf("from a stranger: %v", err)
	}
	if ups := p.Upstreams(ctx, from); len(ups) != 1 || ups[0] != netip.MustParseAddrPort("192.0.2.53:53") {
		t.Fatalf("c1's upstreams: %v", ups)
	}
	if ups := p.Upstreams(ctx, e2.Address.Addr()); len(ups) != 0 {
		t.Fatalf("c2's upstreams: %v", ups)
	}
	// docker rename: the new name answers, the old one no more.
	if err := p.Rename(ctx, c2, "db", "db2"); err != nil {
		t.Fatal(err)
	}
	if addrs, err := p.Resolve(ctx, from, "db2"); err != nil || len(addrs) != 1 || addrs[0] != e2.Address.Addr() {
		t.Fatalf("renamed: %v, %v", addrs, err)
	}
	if _, err := p.Resolve(ctx, from, "db"); !errdefs.IsNotFound(err) {
		t.Fatalf("old name after rename: %v", err)
	}
	// A stopped container is not answered.
	if err := p.Detach(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Resolve(ctx, from, "db2"); !errdefs.IsNotFound(err) {
		t.Fatalf("stopped container: %v", err)
	}
}

func testReopenKeepsNetworks(t *testing.T, in Instance) {
	n := create(t, in.Provider, network.NetworkSpec{Name: "kept", Subnet: netip.MustParsePrefix("10.77.0.0/24"), IPRange: netip.MustParsePrefix("10.77.0.64/26"), Internal: true})
	p := in.Reopen(t)
	got, err := p.Network(context.Background(), "kept")
	if err != nil || got.ID != n.ID || got.Subnet != n.Subnet || got.IPRange != n.IPRange || !got.Internal || !got.UserDefined {
		t.Fatalf("after reopen %+v, %v; before %+v", got, err, n)
	}
	joinSpec(t, p, c1, network.EndpointSpec{Network: "kept"})
	if e := attach(t, p, c1); e.Address.Addr() != netip.MustParseAddr("10.77.0.64") {
		t.Fatalf("reopened range: %+v", e)
	}
}

func testActivateOne(t *testing.T, in Instance) {
	p, ctx := in.Provider, context.Background()
	create(t, p, network.NetworkSpec{Name: "a", Subnet: netip.MustParsePrefix("10.77.0.0/24")})
	join(t, p, c1)
	attach(t, p, c1)
	joinSpec(t, p, c1, network.EndpointSpec{Network: "a", DNSNames: []string{"late"}})
	const mac = "02:43:c1:c1:c1:01"
	nic, err := p.Activate(ctx, c1, "a", mac)
	if err != nil {
		t.Fatal(err)
	}
	if nic.MAC != mac || nic.Network != "a" || nic.Bridge == "" || !netip.MustParsePrefix("10.77.0.0/24").Contains(nic.Address.Addr()) || nic.Gateway.IsValid() {
		t.Fatalf("activated NIC %+v", nic)
	}
	eps := endpoints(t, p, c1)
	if len(eps) != 2 || !eps[1].Active || eps[1].MAC != mac || eps[1].Address != nic.Address {
		t.Fatalf("endpoints %+v", eps)
	}
	if got, err := p.Resolve(ctx, eps[0].Address.Addr(), "late"); err != nil || len(got) != 1 || got[0] != nic.Address.Addr() {
		t.Fatalf("resolve the activated endpoint: %v %v", got, err)
	}
	if _, err := p.Activate(ctx, c1, "a", mac); !errdefs.IsConflict(err) {
		t.Fatalf("activate twice: %v", err)
	}
	if _, err := p.Activate(ctx, c2, "a", mac); !errdefs.IsNotFound(err) {
		t.Fatalf("activate without join: %v", err)
	}
	if err := p.Leave(ctx, c1, "a"); err != nil {
		t.Fatal(err)
	}
	joinSpec(t, p, c2, network.EndpointSpec{Network: "a"})
	if e := attach(t, p, c2); e.Address != nic.Address {
		t.Fatalf("leave kept %s (got %s)", nic.Address, e.Address)
	}
}
