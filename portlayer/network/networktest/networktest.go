// Package networktest is the conformance suite every network.Provider
// passes (local, fake).
package networktest

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/network"
)

// Instance is one provider under test on fresh state.
type Instance struct {
	Provider network.Provider
	// Reopen closes Provider and opens a new one on the same state, as a
	// vchd restart does.
	Reopen func(t *testing.T) network.Provider
}

// Factory makes a fresh Instance; cleanup is the factory's (t.Cleanup).
type Factory func(t *testing.T) Instance

// Run runs the suite; each subtest gets its own instance.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, in Instance)
	}{
		{"BridgeListed", testBridgeListed},
		{"AttachGivesAddresses", testAttach},
		{"DetachReleases", testDetach},
		{"JoinTwiceConflicts", testJoinTwice},
		{"PortBindings", testPorts},
		{"PortConflictLeavesNothing", testPortConflict},
		{"PortRange", testPortRange},
		{"LeaveReleases", testLeave},
		{"ReopenKeepsLeases", testReopen},
		{"CreateNetwork", testCreateNetwork},
		{"RemoveNetwork", testRemoveNetwork},
		{"StaticAddressAndRange", testStaticAndRange},
		{"MultipleNetworks", testMultipleNetworks},
		{"Resolve", testResolve},
		{"ReopenKeepsNetworks", testReopenKeepsNetworks},
		{"ActivateOne", testActivateOne},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f(t)) })
	}
}

const (
	c1 = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
	c2 = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
	c3 = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
)

func bridge(t *testing.T, p network.Provider) network.Network {
	t.Helper()
	n, err := p.Network(context.Background(), network.BridgeName)
	if err != nil {
		t.Fatalf("bridge network: %v", err)
	}
	return n
}

func join(t *testing.T, p network.Provider, c string, ports ...network.PortBinding) {
	t.Helper()
	if _, err := p.Join(context.Background(), c, network.EndpointSpec{Network: network.BridgeName, Ports: ports}); err != nil {
		t.Fatalf("join %s: %v", c[:2], err)
	}
}

func attach(t *testing.T, p network.Provider, c string) network.Endpoint {
	t.Helper()
	nics, err := p.Attach(context.Background(), c)
	if err != nil {
		t.Fatalf("attach %s: %v", c[:2], err)
	}
	eps := endpoints(t, p, c)
	if len(nics) != 1 || len(eps) != 1 {
		t.Fatalf("attach %s: %d NICs, %d endpoints", c[:2], len(nics), len(eps))
	}
	ep := eps[0]
	if nics[0].Address != ep.Address || nics[0].MAC != ep.MAC || nics[0].Gateway.IsValid() && nics[0].Gateway != ep.Gateway || nics[0].Bridge == "" {
		t.Fatalf("NIC %+v does not match endpoint %+v", nics[0], ep)
	}
	return ep
}

func endpoints(t *testing.T, p network.Provider, c string) []network.Endpoint {
	t.Helper()
	eps, err := p.Endpoints(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return eps
}

// freePort is a TCP port nobody listens on right now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func testBridgeListed(t *testing.T, in Instance) {
	ctx := context.Background()
	nets, err := in.Provider.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var br *network.Network
	for i := range nets {
		if nets[i].Name == network.BridgeName {
			br = &nets[i]
		}
	}
	if br == nil {
		t.Fatalf("no bridge network in %+v", nets)
	}
	if len(br.ID) != 64 || br.Driver != "bridge" || !br.Subnet.Contains(br.Gateway) || br.Bridge == "" {
		t.Fatalf("bridge network %+v", br)
	}
	for _, q := range []string{br.ID, br.ID[:12]} {
		if n, err := in.Provider.Network(ctx, q); err != nil || n.ID != br.ID {
			t.Fatalf("Network(%q) = %+v, %v", q, n, err)
		}
	}
	if _, err := in.Provider.Network(ctx, "nosuchnet"); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown network: %v", err)
	}
	if _, err := in.Provider.Join(ctx, c1, network.EndpointSpec{Network: "nosuchnet"}); !errdefs.IsNotFound(err) {
		t.Fatalf("join unknown network: %v", err)
	}
}

func testAttach(t *testing.T, in Instance) {
	p := in.Provider
	br := bridge(t, p)
	join(t, p, c1)
	join(t, p, c2)
	if eps := endpoints(t, p, c1); len(eps) != 1 || eps[0].Active || eps[0].Address.IsValid() {
		t.Fatalf("joined endpoint before attach: %+v", eps)
	}
	e1, e2 := attach(t, p, c1), attach(t, p, c2)
	for _, e := range []network.Endpoint{e1, e2} {
		if !e.Active || !br.Subnet.Contains(e.Address.Addr()) || e.Address.Bits() != br.Subnet.Bits() ||
			e.Gateway != br.Gateway || e.Address.Addr() == br.Gateway || e.MAC != network.MACFor(e.Address.Addr()) || e.Network != br.ID {
			t.Fatalf("endpoint %+v on %+v", e, br)
		}
	}
	if e1.Address == e2.Address {
		t.Fatalf("same address twice: %s", e1.Address)
	}
}

func testDetach(t *testing.T, in Instance) {
	p, ctx := in.Provider, context.Background()
	join(t, p, c1)
	join(t, p, c2)
	e1 := attach(t, p, c1)
	if err := p.Detach(ctx, c1); err != nil {
		t.Fatal(err)
	}
	if err := p.Detach(ctx, c1); err != nil {
		t.Fatalf("second detach: %v", err)
	}
	if eps := endpoints(t, p, c1); len(eps) != 1 || eps[0].Active || eps[0].Address.IsValid() {
		t.Fatalf("after detach: %+v", eps)
	}
	if e2 := attach(t, p, c2); e2.Address != e1.Address {
		t.Fatalf("released address %s not reused, got %s", e1.Address, e2.Address)
	}
	if again := attach(t, p, c1); again.Address == e1.Address {
		t.Fatalf("address %s leased twice", again.Address)
	}
	if err := p.Detach(ctx, c3); err != nil {
		t.Fatalf("detach of a container without endpoints: %v", err)
	}
}

func testJoinTwice(t *testing.T, in Instance) {
	join(t, in.Provider, c1)
	_, err := in.Provider.Join(context.Background(), c1, network.EndpointSpec{Network: network.BridgeName})
	if !errdefs.IsConflict(err) {
		t.Fatalf("second join: %v", err)
	}
}

func testPorts(t *testing.T, in Instance) {
	p := in.Provider
	fixed := freePort(t)
	join(t, p, c1,
		network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: fixed},
		network.PortBinding{Proto: "tcp", ContainerPort: 81},
		network.PortBinding{Proto: "udp", ContainerPort: 53, HostPort: fixed},
	)
	e := attach(t, p, c1)
	if len(e.Bound) != 3 {
		t.Fatalf("bound %+v", e.Bound)
	}
	if b := e.Bound[0]; b.HostPort != fixed || b.ContainerPort != 80 || b.Proto != "tcp" {
		t.Fatalf("fixed binding %+v", b)
	}
	if b := e.Bound[1]; b.HostPort == 0 || b.HostPort == fixed || b.ContainerPort != 81 {
		t.Fatalf("random binding %+v", b)
	}
	if b := e.Bound[2]; b.HostPort != fixed || b.Proto != "udp" {
		t.Fatalf("udp binding %+v", b)
	}
	if err := p.Detach(context.Background(), c1); err != nil {
		t.Fatal(err)
	}
	// The ports are free again.
	join(t, p, c2, network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: fixed})
	attach(t, p, c2)
}

func testPortConflict(t *testing.T, in Instance) {
	p, ctx := in.Provider, context.Background()
	fixed := freePort(t)
	join(t, p, c1, network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: fixed})
	join(t, p, c2, network.PortBinding{Proto: "tcp", ContainerPort: 8080}, network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: fixed})
	e1 := attach(t, p, c1)
	_, err := p.Attach(ctx, c2)
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "port is already allocated") {
		t.Fatalf("conflicting attach: %v", err)
	}
	if eps := endpoints(t, p, c2); len(eps) != 1 || eps[0].Active || len(eps[0].Bound) != 0 {
		t.Fatalf("failed attach left %+v", eps)
	}
	join(t, p, c3)
	if e3 := attach(t, p, c3); e3.Address == e1.Address || e3.Address.Addr() != e1.Address.Addr().Next() {
		t.Fatalf("failed attach kept its address: c1 %s, c3 %s", e1.Address, e3.Address)
	}
}

func testPortRange(t *testing.T, in Instance) {
	p := in.Provider
	first := freePort(t)
	join(t, p, c1, network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: first})
	attach(t, p, c1)
	join(t, p, c2, network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: first, HostPortEnd: first + 1})
	e := attach(t, p, c2)
	if len(e.Bound) != 1 || e.Bound[0].HostPort != first+1 {
		t.Fatalf("range binding %+v", e.Bound)
	}
}

func testLeave(t *testing.T, in Instance) {
	p, ctx := in.Provider, context.Background()
	fixed := freePort(t)
	join(t, p, c1, network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: fixed})
	e1 := attach(t, p, c1)
	if cs, err := p.Containers(ctx); err != nil || len(cs) != 1 || cs[0] != c1 {
		t.Fatalf("containers %v %v", cs, err)
	}
	if err := p.Leave(ctx, c1, ""); err != nil {
		t.Fatal(err)
	}
	if cs, err := p.Containers(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("containers after leave %v %v", cs, err)
	}
	if eps := endpoints(t, p, c1); len(eps) != 0 {
		t.Fatalf("after leave: %+v", eps)
	}
	join(t, p, c2, network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: fixed})
	if e2 := attach(t, p, c2); e2.Address != e1.Address {
		t.Fatalf("leave kept the lease: %s vs %s", e2.Address, e1.Address)
	}
}

func testReopen(t *testing.T, in Instance) {
	if in.Reopen == nil {
		t.Fatal("the factory gave no Reopen")
	}
	fixed := freePort(t)
	join(t, in.Provider, c1, network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: fixed})
	join(t, in.Provider, c2)
	e1 := attach(t, in.Provider, c1)
	p := in.Reopen(t)
	eps := endpoints(t, p, c1)
	if len(eps) != 1 || !eps[0].Active || eps[0].Address != e1.Address || len(eps[0].Bound) != 1 || eps[0].Bound[0].HostPort != fixed {
		t.Fatalf("after reopen %+v, before %+v", eps, e1)
	}
	if e2 := attach(t, p, c2); e2.Address == e1.Address {
		t.Fatalf("reopened provider leased %s twice", e1.Address)
	}
	join(t, p, c3, network.PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: fixed})
	if _, err := p.Attach(context.Background(), c3); !errdefs.IsConflict(err) {
		t.Fatalf("reopened provider forgot a binding: %v", err)
	}
}
