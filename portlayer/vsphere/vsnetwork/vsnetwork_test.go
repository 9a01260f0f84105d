package vsnetwork_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/network/networktest"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/portlayer/vsphere/vsnetwork"
)

var seq atomic.Int64

// config is a fresh VCH on the shared simulator: its own name and state
// folder, the bridge on the distributed port group DC0_DVPG0.
func config(t *testing.T, s *vsession.Session) vsnetwork.Config {
	n := seq.Add(1)
	return vsnetwork.Config{
		Session: s, VCH: fmt.Sprintf("vchnet%d", n), State: fmt.Sprintf("[LocalDS_0] vchnet%d", n),
		BridgePortGroup: "DC0_DVPG0", Logger: zaptest.NewLogger(t),
	}
}

func open(t *testing.T, cfg vsnetwork.Config) *vsnetwork.Provider {
	t.Helper()
	p, err := vsnetwork.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestConformance(t *testing.T) {
	sim := vsimtest.Shared(t)
	networktest.Run(t, func(t *testing.T) networktest.Instance {
		cfg := config(t, sim.Session(t))
		p := open(t, cfg)
		return networktest.Instance{Provider: p, Reopen: func(t *testing.T) network.Provider {
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			// A new session too, as a restarted vchd has.
			cfg.Session = sim.Session(t)
			return open(t, cfg)
		}}
	})
}

// A user-defined network is a distributed port group on the bridge's
// switch, gone again with the network; its NICs are on it.
func TestUserNetworkIsPortGroup(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	s := sim.Session(t)
	cfg := config(t, s)
	p := open(t, cfg)
	n, err := p.CreateNetwork(ctx, network.NetworkSpec{Name: "front"})
	if err != nil {
		t.Fatal(err)
	}
	pg := cfg.VCH + "-" + n.ID[:12]
	if n.Bridge != pg {
		t.Fatalf("network's port group %q, want %q", n.Bridge, pg)
	}
	if _, err := s.Finder.Network(ctx, pg); err != nil {
		t.Fatalf("port group %s: %v", pg, err)
	}
	const c = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
	if _, err := p.Join(ctx, c, network.EndpointSpec{Network: "front"}); err != nil {
		t.Fatal(err)
	}
	nics, err := p.Attach(ctx, c)
	if err != nil || len(nics) != 1 || nics[0].Bridge != pg {
		t.Fatalf("NICs %+v, %v", nics, err)
	}
	if err := p.Leave(ctx, c, ""); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveNetwork(ctx, "front"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finder.Network(ctx, pg); err == nil {
		t.Fatalf("port group %s still there", pg)
	}
}

// A container network is an existing port group, even one whose name is
// no interface name; an unknown port group fails the open, naming it.
func TestContainerNetworkPortGroup(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	cfg := config(t, sim.Session(t))
	cfg.ContainerNetworks = []vsnetwork.ContainerNetwork{{PortGroup: "VM Network", Spec: network.ContainerNetworkSpec{
		Name: "public", Gateway: netip.MustParsePrefix("10.9.0.1/24"),
		RangeFrom: netip.MustParseAddr("10.9.0.100"), RangeTo: netip.MustParseAddr("10.9.0.110"),
	}}}
	p := open(t, cfg)
	n, err := p.Network(ctx, "public")
	if err != nil || n.Driver != network.ContainerDriver || !n.Container {
		t.Fatalf("container network %+v, %v", n, err)
	}
	const c = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
	if _, err := p.Join(ctx, c, network.EndpointSpec{Network: "public"}); err != nil {
		t.Fatal(err)
	}
	nics, err := p.Attach(ctx, c)
	if err != nil || len(nics) != 1 || nics[0].Bridge != "VM Network" || nics[0].Address.Addr() != netip.MustParseAddr("10.9.0.100") {
		t.Fatalf("NICs %+v, %v", nics, err)
	}

	bad := config(t, sim.Session(t))
	bad.ContainerNetworks = []vsnetwork.ContainerNetwork{{PortGroup: "no such pg", Spec: cfg.ContainerNetworks[0].Spec}}
	if _, err := vsnetwork.New(ctx, bad); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "no such pg") {
		t.Fatalf("unknown port group: %v", err)
	}
	bad = config(t, sim.Session(t))
	bad.BridgePortGroup = "missing-bridge"
	if _, err := vsnetwork.New(ctx, bad); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "missing-bridge") {
		t.Fatalf("unknown bridge port group: %v", err)
	}
}

// A standard (non-distributed) bridge port group has no switch to make
// user-defined networks' port groups on: one clear error, nothing booked.
func TestUserNetworkNeedsDistributedSwitch(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	cfg := config(t, sim.Session(t))
	cfg.BridgePortGroup = "VM Network"
	p := open(t, cfg)
	if _, err := p.CreateNetwork(ctx, network.NetworkSpec{Name: "x"}); !errdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "distributed") {
		t.Fatalf("create on a standard port group: %v", err)
	}
	if _, err := p.Network(ctx, "x"); !errdefs.IsNotFound(err) {
		t.Fatalf("failed create left the network: %v", err)
	}
}

// A published port forwards to the endpoint's address. The bridge is put
// on 127.77.0.0/16 so the "container" is a loopback listener.
func TestPortForwards(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	cfg := config(t, sim.Session(t))
	cfg.BridgeRange = netip.MustParsePrefix("127.77.0.0/16")
	p := open(t, cfg)
	l, err := net.Listen("tcp4", "127.77.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hello from the container\n")
			_ = c.Close()
		}
	}()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	const c = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
	if _, err := p.Join(ctx, c, network.EndpointSpec{Network: network.BridgeName, Ports: []network.PortBinding{{Proto: "tcp", ContainerPort: port, HostIP: netip.MustParseAddr("127.0.0.1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Attach(ctx, c); err != nil {
		t.Fatal(err)
	}
	eps, err := p.Endpoints(ctx, c)
	if err != nil || len(eps) != 1 || eps[0].Address.Addr() != netip.MustParseAddr("127.77.0.2") || len(eps[0].Bound) != 1 {
		t.Fatalf("endpoints %+v, %v", eps, err)
	}
	conn, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", eps[0].Bound[0].HostPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "hello from the container\n" {
		t.Fatalf("through the forward: %q, %v", got, err)
	}
	if err := p.Detach(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", eps[0].Bound[0].HostPort)); err == nil {
		t.Fatal("the forward outlived the detach")
	}
}

// The networks' DNS is served on their gateways where those are this
// host's addresses (the endpoint VM's legs): here the bridge on
// 127.78.0.0/16 and a user-defined network on 127.79.0.0/16, both on
// loopback. A container's name answers from a container on the same
// network only; the server goes with the network.
func TestDNSOnGateways(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	cfg := config(t, sim.Session(t))
	cfg.BridgeRange = netip.MustParsePrefix("127.78.0.0/16")
	cfg.DNSUpstreams = []string{"127.0.0.1:9"} // never reached: only known names are asked
	p := open(t, cfg)
	if _, err := p.CreateNetwork(ctx, network.NetworkSpec{Name: "back", Subnet: netip.MustParsePrefix("127.79.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	const (
		c1 = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
		c2 = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
	)
	for _, j := range []struct {
		c    string
		spec network.EndpointSpec
	}{
		{c1, network.EndpointSpec{Network: "back", DNSNames: []string{"web"}}},
		{c2, network.EndpointSpec{Network: "back", DNSNames: []string{"db"}}},
	} {
		if _, err := p.Join(ctx, j.c, j.spec); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Attach(ctx, j.c); err != nil {
			t.Fatal(err)
		}
	}
	ask := func(from, server, name string) (*dns.Msg, error) {
		c := &dns.Client{Net: "udp", Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		r, _, err := c.Exchange(m, net.JoinHostPort(server, "53"))
		return r, err
	}
	r, err := ask("127.79.0.2", "127.79.0.1", "db")
	if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.79.0.3" {
		t.Fatalf("db from web: %v, %v", r, err)
	}
	if err := p.Leave(ctx, c1, ""); err != nil {
		t.Fatal(err)
	}
	if err := p.Leave(ctx, c2, ""); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveNetwork(ctx, "back"); err != nil {
		t.Fatal(err)
	}
	if _, err := ask("127.79.0.2", "127.79.0.1", "db"); err == nil {
		t.Fatal("the removed network's DNS still answers")
	}
}

// legRecorder records what the provider asks of the endpoint's guest;
// failUp makes Up fail.
type legRecorder struct {
	ups, downs []string // "MAC ADDR", "MAC"
	failUp     bool
	// hold, when set, makes Up say so on entered and wait for it to close.
	hold, entered chan struct{}
}

func (l *legRecorder) Up(_ context.Context, mac string, addr netip.Prefix) error {
	if l.hold != nil {
		l.entered <- struct{}{}
		<-l.hold
	}
	if l.failUp {
		return errors.New("no NIC with that MAC appeared")
	}
	l.ups = append(l.ups, mac+" "+addr.String())
	return nil
}

func (l *legRecorder) Down(_ context.Context, mac string) error {
	l.downs = append(l.downs, mac)
	return nil
}

// endpointNICs lists the endpoint VM's NICs as "MAC PORTGROUP-KEY".
func endpointNICs(t *testing.T, s *vsession.Session, name string) map[string]string {
	t.Helper()
	ctx := context.Background()
	vm, err := s.Finder.VirtualMachine(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	devices, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		c := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		key := ""
		if b, ok := c.Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); ok {
			key = b.Port.PortgroupKey
		}
		out[c.MacAddress] = key
	}
	return out
}

// The endpoint VM is each user-defined network's gateway: making the
// network hot-adds a NIC on its port group to the endpoint VM (a fixed
// MAC of VMware's static range) and has the guest give it the gateway
// address; a restarted provider brings the leg up again without a second
// NIC; removing the network takes the leg down and removes the NIC before
// the port group goes. A leg that does not come up fails the create and
// leaves nothing behind.
func TestEndpointLegs(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	s := sim.Session(t)
	cfg := config(t, s)
	cfg.Endpoint = cfg.VCH
	legs := &legRecorder{}
	cfg.Legs = legs
	folders, err := s.Datacenter.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	task, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{Name: cfg.Endpoint, GuestId: "otherGuest",
		Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"}}, s.Pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	p := open(t, cfg)
	n, err := p.CreateNetwork(ctx, network.NetworkSpec{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.Finder.Network(ctx, n.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	nics := endpointNICs(t, s, cfg.Endpoint)
	var mac string
	for m, pg := range nics {
		if pg == ref.Reference().Value {
			mac = m
		}
	}
	if len(nics) != 1 || !regexp.MustCompile(`^00:50:56:[0-3][0-9a-f](:[0-9a-f]{2}){2}$`).MatchString(mac) {
		t.Fatalf("the endpoint's NICs %v: want one on %s (%s) with a static VMware MAC", nics, n.Bridge, ref.Reference().Value)
	}
	gw := netip.PrefixFrom(n.Gateway, n.Subnet.Bits()).String()
	if len(legs.ups) != 1 || legs.ups[0] != mac+" "+gw {
		t.Fatalf("legs brought up %q, want %q", legs.ups, mac+" "+gw)
	}

	// A restarted vchd: the leg comes up again, on the same NIC.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Session = sim.Session(t)
	p = open(t, cfg)
	if got := endpointNICs(t, s, cfg.Endpoint); len(got) != 1 || got[mac] == "" {
		t.Fatalf("after a restart the endpoint has NICs %v", got)
	}
	if len(legs.ups) != 2 || legs.ups[1] != mac+" "+gw {
		t.Fatalf("after a restart legs brought up %q", legs.ups)
	}

	if err := p.RemoveNetwork(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if len(legs.downs) != 1 || legs.downs[0] != mac {
		t.Fatalf("legs taken down %q, want %s", legs.downs, mac)
	}
	if got := endpointNICs(t, s, cfg.Endpoint); len(got) != 0 {
		t.Fatalf("after network rm the endpoint has NICs %v", got)
	}
	if _, err := s.Finder.Network(ctx, n.Bridge); err == nil {
		t.Fatalf("port group %s outlived its network", n.Bridge)
	}

	// While a leg comes up (a hot-added NIC appearing in the guest),
	// the provider goes on answering: lists, lookups, DNS.
	legs.hold, legs.entered = make(chan struct{}), make(chan struct{})
	created := make(chan error, 1)
	go func() {
		_, err := p.CreateNetwork(ctx, network.NetworkSpec{Name: "slow"})
		created <- err
	}()
	select {
	case <-legs.entered:
	case err := <-created:
		t.Fatalf("network create ended before its leg came up: %v", err)
	}
	answered := make(chan error, 1)
	go func() {
		_, err := p.Networks(ctx)
		if err == nil {
			_, err = p.Resolve(ctx, netip.MustParseAddr("172.16.0.5"), "nobody")
			if errdefs.IsNotFound(err) {
				err = nil
			}
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // a hang, not a timing check
		close(legs.hold) // so the create and the cleanup end
		<-created
		t.Fatal("the provider did not answer while a leg came up")
	}
	if _, err := p.Network(ctx, "slow"); !errdefs.IsNotFound(err) {
		t.Fatalf("a network whose leg is not up is listed: %v", err)
	}
	close(legs.hold)
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	legs.hold = nil
	if err := p.RemoveNetwork(ctx, "slow"); err != nil {
		t.Fatal(err)
	}

	// A leg that does not come up: no network, no NIC, no port group.
	legs.failUp = true
	if _, err := p.CreateNetwork(ctx, network.NetworkSpec{Name: "broken"}); err == nil || !strings.Contains(err.Error(), "no NIC with that MAC appeared") {
		t.Fatalf("create with a failing leg: %v", err)
	}
	if _, err := p.Network(ctx, "broken"); !errdefs.IsNotFound(err) {
		t.Fatalf("the failed network is listed: %v", err)
	}
	if got := endpointNICs(t, s, cfg.Endpoint); len(got) != 0 {
		t.Fatalf("after a failed create the endpoint has NICs %v", got)
	}
	nets, err := s.Finder.NetworkList(ctx, cfg.VCH+"-*")
	if err == nil && len(nets) > 0 {
		t.Fatalf("a failed create left port groups %v", nets)
	}
}
