package container

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	dnetwork "github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	pnetwork "github.com/vchproject/vch/portlayer/network"
	netfake "github.com/vchproject/vch/portlayer/network/fake"
)

// newNetEnv is newEnv with the fake network under both the compute fake
// (attach at start, detach at exit) and the backend.
func newNetEnv(t *testing.T) (*env, *netfake.Provider) {
	e := newEnv(t)
	nets := netfake.New()
	e.pl.Network = nets
	e.b.Close()
	b, err := New(context.Background(), Config{Compute: e.pl, Network: nets, Images: e.images, Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	e.b = b
	t.Cleanup(b.Close)
	return e, nets
}

func TestPublishInspectPsStop(t *testing.T) {
	e, nets := newNetEnv(t)
	ctx := context.Background()
	hc := &container.HostConfig{
		PortBindings: nat.PortMap{
			"80/tcp": {{HostIP: "127.0.0.1", HostPort: "8080"}, {HostPort: ""}},
			"53/udp": {{HostPort: "5353"}},
		},
		PublishAllPorts: true,
	}
	cfg := container.Config{Cmd: []string{"sleep"}, ExposedPorts: nat.PortSet{"80/tcp": {}, "53/udp": {}, "7000/tcp": {}}}
	id := e.create("web", cfg, hc)
	e.start("web")

	ns := e.inspect("web").NetworkSettings
	br := ns.Networks["bridge"]
	if br == nil || !strings.HasPrefix(br.IPAddress, "172.16.0.") || br.Gateway != "172.16.0.1" || br.IPPrefixLen != 16 ||
		len(br.NetworkID) != 64 || len(br.EndpointID) != 64 || !strings.HasPrefix(br.MacAddress, "02:42:ac:10:00:") {
		t.Fatalf("bridge endpoint %+v", br)
	}
	p80 := ns.Ports["80/tcp"]
	if len(p80) != 2 || p80[0] != (nat.PortBinding{HostIP: "127.0.0.1", HostPort: "8080"}) || p80[1].HostIP != "0.0.0.0" || p80[1].HostPort == "" || p80[1].HostPort == "0" {
		t.Fatalf("80/tcp %+v", p80)
	}
	if p := ns.Ports["53/udp"]; len(p) != 1 || p[0].HostPort != "5353" {
		t.Fatalf("53/udp %+v", p)
	}
	if p := ns.Ports["7000/tcp"]; len(p) != 1 || p[0].HostPort == "" {
		t.Fatalf("-P 7000/tcp %+v", p)
	}
	list, err := e.b.Containers(ctx, containerrouter.ListConfig{All: true})
	if err != nil || len(list) != 1 || len(list[0].Ports) != 4 || list[0].NetworkSettings.Networks["bridge"] == nil {
		t.Fatalf("ps: %+v %v", list, err)
	}

	// A second container on the same host port cannot start, and keeps
	// nothing.
	other := e.create("other", container.Config{Cmd: []string{"sleep"}}, &container.HostConfig{PortBindings: nat.PortMap{"80/tcp": {{HostPort: "5353"}}, "81/udp": {{HostPort: "5353"}}}})
	err = e.b.ContainerStart(ctx, "other")
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "Bind for 0.0.0.0:5353 failed: port is already allocated") {
		t.Fatalf("conflicting start: %v", err)
	}
	if eps, _ := nets.Endpoints(ctx, other); len(eps) != 1 || eps[0].Active {
		t.Fatalf("failed start holds %+v", eps)
	}

	if err := e.b.ContainerStop(ctx, "web", nil, ""); err != nil {
		t.Fatal(err)
	}
	ns = e.inspect("web").NetworkSettings
	if br := ns.Networks["bridge"]; br == nil || br.IPAddress != "" || len(ns.Ports) != 0 {
		t.Fatalf("stopped: %+v", ns)
	}
	if err := e.b.ContainerRemove(ctx, "web", false, false); err != nil {
		t.Fatal(err)
	}
	if eps, _ := nets.Endpoints(ctx, id); len(eps) != 0 {
		t.Fatalf("rm left endpoints %+v", eps)
	}
}

func TestNetworkModes(t *testing.T) {
	e, nets := newNetEnv(t)
	ctx := context.Background()
	id := e.create("", container.Config{Cmd: []string{"true"}}, &container.HostConfig{NetworkMode: "none"})
	if eps, _ := nets.Endpoints(ctx, id); len(eps) != 0 {
		t.Fatalf("--network none joined %+v", eps)
	}
	for _, tc := range []struct {
		hc    container.HostConfig
		check func(error) bool
		text  string
	}{
		{container.HostConfig{NetworkMode: "nosuch"}, errdefs.IsNotFound, "network nosuch not found"},
		{container.HostConfig{NetworkMode: "none", PublishAllPorts: true}, errdefs.IsInvalidParameter, "conflicting options"},
		{container.HostConfig{NetworkMode: "host"}, errdefs.IsNotImplemented, "--network host"},
		{container.HostConfig{PortBindings: nat.PortMap{"80/tcp": {{HostPort: "x"}}}}, errdefs.IsInvalidParameter, "invalid hostPort"},
		{container.HostConfig{PortBindings: nat.PortMap{"80/sctp": {{HostPort: "80"}}}}, errdefs.IsInvalidParameter, "invalid proto"},
	} {
		hc := tc.hc
		_, err := e.b.ContainerCreate(ctx, containerrouter.CreateConfig{Config: &container.Config{Image: "busybox", Cmd: []string{"true"}}, HostConfig: &hc})
		if !tc.check(err) || !strings.Contains(err.Error(), tc.text) {
			t.Fatalf("%+v: %v", tc.hc, err)
		}
	}
	// Nothing was created for the refused ones.
	list, err := e.b.Containers(ctx, containerrouter.ListConfig{All: true})
	if err != nil || len(list) != 1 {
		t.Fatalf("containers after refused creates: %d %v", len(list), err)
	}
}

// TestNetworkReconcile: at a vchd start, endpoints of containers that are
// gone are forgotten and stopped containers hold nothing.
func TestNetworkReconcile(t *testing.T) {
	e, nets := newNetEnv(t)
	ctx := context.Background()
	const ghost = "0000000000000000000000000000000000000000000000000000000000000001"
	if _, err := nets.Join(ctx, ghost, pnetwork.EndpointSpec{Network: "bridge"}); err != nil {
		t.Fatal(err)
	}
	id := e.create("stopped", container.Config{Cmd: []string{"true"}}, nil)
	if _, err := nets.Attach(ctx, id); err != nil { // as if a Detach was lost
		t.Fatal(err)
	}
	e.b.Close()
	b, err := New(ctx, Config{Compute: e.pl, Network: nets, Images: e.images, Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if eps, _ := nets.Endpoints(ctx, ghost); len(eps) != 0 {
		t.Fatalf("ghost endpoints %+v", eps)
	}
	if eps, _ := nets.Endpoints(ctx, id); len(eps) != 1 || eps[0].Active {
		t.Fatalf("stopped container's endpoint %+v", eps)
	}
}

func TestUserNetworkCreateOptions(t *testing.T) {
	e, nets := newNetEnv(t)
	ctx := context.Background()
	if _, err := nets.CreateNetwork(ctx, pnetwork.NetworkSpec{Name: "front", Subnet: netip.MustParsePrefix("10.77.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	if _, err := nets.CreateNetwork(ctx, pnetwork.NetworkSpec{Name: "auto"}); err != nil {
		t.Fatal(err)
	}
	mk := func(name, mode string, eps map[string]*dnetwork.EndpointSettings) (string, error) {
		resp, err := e.b.ContainerCreate(ctx, containerrouter.CreateConfig{
			Name: name, Config: &container.Config{Image: "busybox", Cmd: []string{"sleep"}},
			HostConfig:       &container.HostConfig{NetworkMode: container.NetworkMode(mode)},
			NetworkingConfig: &dnetwork.NetworkingConfig{EndpointsConfig: eps},
		})
		return resp.ID, err
	}
	id, err := mk("web", "front", map[string]*dnetwork.EndpointSettings{
		"front": {Aliases: []string{"www"}, IPAMConfig: &dnetwork.EndpointIPAMConfig{IPv4Address: "10.77.0.9"}},
		"auto":  {Aliases: []string{"api"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	eps, err := nets.Endpoints(ctx, id)
	if err != nil || len(eps) != 2 {
		t.Fatalf("endpoints %+v %v", eps, err)
	}
	if got := strings.Join(eps[0].DNSNames, " "); got != "web "+id[:12]+" www" || eps[0].IPv4.String() != "10.77.0.9" {
		t.Fatalf("front endpoint %+v", eps[0])
	}
	if got := strings.Join(eps[1].DNSNames, " "); got != "web "+id[:12]+" api" {
		t.Fatalf("second endpoint %+v", eps[1])
	}
	e.start("web")
	ns := e.inspect("web").NetworkSettings
	if f := ns.Networks["front"]; f == nil || f.IPAddress != "10.77.0.9" || strings.Join(f.Aliases, " ") != "www" || f.IPAMConfig == nil {
		t.Fatalf("front settings %+v", f)
	}
	if a := ns.Networks["auto"]; a == nil || a.IPAddress == "" {
		t.Fatalf("auto settings %+v", a)
	}

	for _, tc := range []struct {
		mode  string
		eps   map[string]*dnetwork.EndpointSettings
		class func(error) bool
		text  string
	}{
		{"bridge", map[string]*dnetwork.EndpointSettings{"bridge": {IPAMConfig: &dnetwork.EndpointIPAMConfig{IPv4Address: "172.16.0.9"}}}, errdefs.IsInvalidParameter, "user specified IP address is supported on user defined networks only"},
		{"bridge", map[string]*dnetwork.EndpointSettings{"bridge": {Aliases: []string{"x"}}}, errdefs.IsInvalidParameter, "network-scoped alias is supported only for containers in user defined networks"},
		{"auto", map[string]*dnetwork.EndpointSettings{"auto": {IPAMConfig: &dnetwork.EndpointIPAMConfig{IPv4Address: "172.17.0.9"}}}, errdefs.IsInvalidParameter, "user specified IP address is supported only when connecting to networks with user configured subnets"},
		{"front", map[string]*dnetwork.EndpointSettings{"front": {IPAMConfig: &dnetwork.EndpointIPAMConfig{IPv4Address: "10.99.0.9"}}}, errdefs.IsInvalidParameter, "no configured subnet or ip-range contain the IP address 10.99.0.9"},
		{"nosuch", nil, errdefs.IsNotFound, "network nosuch not found"},
	} {
		if _, err := mk("", tc.mode, tc.eps); !tc.class(err) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("create on %s %+v: %v", tc.mode, tc.eps, err)
		}
	}
	cs, err := e.b.Containers(ctx, containerrouter.ListConfig{All: true})
	if err != nil || len(cs) != 1 {
		t.Fatalf("refused creates left containers: %d %v", len(cs), err)
	}
	if ids, _ := nets.Containers(ctx); len(ids) != 1 {
		t.Fatalf("refused creates left endpoints: %v", ids)
	}
}

func TestConnectDisconnectStopped(t *testing.T) {
	e, nets := newNetEnv(t)
	ctx := context.Background()
	for _, n := range []string{"front", "n2", "n3", "n4"} {
		if _, err := nets.CreateNetwork(ctx, pnetwork.NetworkSpec{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	id := e.create("web", container.Config{Cmd: []string{"sleep"}}, &container.HostConfig{})
	if err := e.b.NetworkConnect(ctx, "web", "front", &dnetwork.EndpointSettings{Aliases: []string{"www"}}); err != nil {
		t.Fatal(err)
	}
	err := e.b.NetworkConnect(ctx, "web", "front", nil)
	if !errdefs.IsForbidden(err) || err.Error() != "endpoint with name web already exists in network front" {
		t.Fatalf("connect twice: %v", err)
	}
	eps, _ := nets.Endpoints(ctx, id)
	if len(eps) != 2 || strings.Join(eps[1].DNSNames, " ") != "web "+id[:12]+" www" {
		t.Fatalf("endpoints after connect %+v", eps)
	}
	e.start("web")
	ns := e.inspect("web").NetworkSettings
	if ns.Networks["front"] == nil || ns.Networks["front"].IPAddress == "" || ns.Networks["bridge"] == nil || ns.Networks["bridge"].IPAddress == "" {
		t.Fatalf("running on both: %+v", ns.Networks)
	}
	for _, op := range []func() error{
		func() error { return e.b.NetworkConnect(ctx, "web", "n2", nil) },
		func() error { return e.b.NetworkDisconnect(ctx, "web", "front", false) },
	} {
		if err := op(); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "stop it first") {
			t.Fatalf("on a running container: %v", err)
		}
	}
	if err := e.b.ContainerStop(ctx, "web", nil, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.b.NetworkDisconnect(ctx, "web", "front", false); err != nil {
		t.Fatal(err)
	}
	if err := e.b.NetworkDisconnect(ctx, "web", "front", false); !errdefs.IsForbidden(err) || !strings.Contains(err.Error(), "is not connected to network front") {
		t.Fatalf("disconnect twice: %v", err)
	}
	if _, ok := e.inspect("web").NetworkSettings.Networks["front"]; ok {
		t.Fatal("front still in inspect after disconnect")
	}
	for _, n := range []string{"n2", "n3", "n4"} {
		if err := e.b.NetworkConnect(ctx, "web", n, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.b.NetworkConnect(ctx, "web", "front", nil); !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "at most 4 networks") {
		t.Fatalf("a fifth network: %v", err)
	}
	if err := e.b.NetworkConnect(ctx, "web", "nosuch", nil); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown network: %v", err)
	}
}

// plugFake adds NIC plugging to the compute fake: it records the NICs
// configure gives.
type plugFake struct {
	compute.Provider
	plugged map[string]compute.NIC // MAC -> NIC
	fail    error
}

func (p *plugFake) PlugNIC(_ context.Context, id string, configure func(mac string) (compute.NIC, error)) error {
	nic, err := configure(fmt.Sprintf("02:43:%s:%s:%s:%02x", id[0:2], id[2:4], id[4:6], len(p.plugged)+1))
	if err != nil {
		return err
	}
	if p.fail != nil {
		return p.fail
	}
	p.plugged[nic.MAC] = nic
	return nil
}

func (p *plugFake) UnplugNIC(_ context.Context, _, mac string) error {
	if _, ok := p.plugged[mac]; !ok {
		return errdefs.InvalidParameter("not a spare")
	}
	delete(p.plugged, mac)
	return nil
}

func TestConnectDisconnectRunning(t *testing.T) {
	e, nets := newNetEnv(t)
	ctx := context.Background()
	pf := &plugFake{Provider: e.pl, plugged: map[string]compute.NIC{}}
	e.b.Close()
	b, err := New(ctx, Config{Compute: pf, Network: nets, Images: e.images, Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	e.b = b
	t.Cleanup(b.Close)
	for _, n := range []string{"front", "broken"} {
		if _, err := nets.CreateNetwork(ctx, pnetwork.NetworkSpec{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	id := e.create("web", container.Config{Cmd: []string{"sleep"}}, &container.HostConfig{})
	e.start("web")
	if err := e.b.NetworkConnect(ctx, "web", "front", &dnetwork.EndpointSettings{Aliases: []string{"www"}}); err != nil {
		t.Fatal(err)
	}
	f := e.inspect("web").NetworkSettings.Networks["front"]
	if f == nil || f.IPAddress == "" || len(pf.plugged) != 1 || pf.plugged[f.MacAddress].Address.Addr().String() != f.IPAddress {
		t.Fatalf("connected while running: %+v, plugged %+v", f, pf.plugged)
	}
	// A failed plug leaves no endpoint behind.
	pf.fail = errdefs.Conflict("no spare NIC left")
	if err := e.b.NetworkConnect(ctx, "web", "broken", nil); !errdefs.IsConflict(err) {
		t.Fatalf("failed plug: %v", err)
	}
	if eps, _ := nets.Endpoints(ctx, id); len(eps) != 2 {
		t.Fatalf("endpoints after a failed plug: %+v", eps)
	}
	// The network the VM booted on stays; the connected one can go.
	if err := e.b.NetworkDisconnect(ctx, "web", "bridge", false); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("disconnect the boot network: %v", err)
	}
	if err := e.b.NetworkDisconnect(ctx, "web", "front", false); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.inspect("web").NetworkSettings.Networks["front"]; ok || len(pf.plugged) != 0 {
		t.Fatalf("after disconnect: plugged %+v", pf.plugged)
	}
}

func TestRenameUpdatesDNSNames(t *testing.T) {
	e, nets := newNetEnv(t)
	ctx := context.Background()
	if _, err := nets.CreateNetwork(ctx, pnetwork.NetworkSpec{Name: "front"}); err != nil {
		t.Fatal(err)
	}
	id := e.create("old", container.Config{Cmd: []string{"sleep"}}, &container.HostConfig{NetworkMode: "front"})
	if err := e.b.ContainerRename(ctx, "old", "new"); err != nil {
		t.Fatal(err)
	}
	eps, _ := nets.Endpoints(ctx, id)
	if len(eps) != 1 || strings.Join(eps[0].DNSNames, " ") != "new "+id[:12] {
		t.Fatalf("DNS names after rename: %+v", eps)
	}
}

// TestReconnectKeepsPorts: compose v1 creates a container on the
// project's network, disconnects it and connects it again (with its short
// ID as one more alias) before the start; its -p bindings must survive.
func TestReconnectKeepsPorts(t *testing.T) {
	e, nets := newNetEnv(t)
	ctx := context.Background()
	if _, err := nets.CreateNetwork(ctx, pnetwork.NetworkSpec{Name: "proj_default"}); err != nil {
		t.Fatal(err)
	}
	hc := &container.HostConfig{NetworkMode: "proj_default", PortBindings: nat.PortMap{"80/tcp": {{HostIP: "", HostPort: "8080"}}}}
	cfg := container.Config{Cmd: []string{"sleep"}, ExposedPorts: nat.PortSet{"80/tcp": {}}}
	id := e.create("proj_web_1", cfg, hc)
	if err := e.b.NetworkDisconnect(ctx, "proj_web_1", "proj_default", false); err != nil {
		t.Fatal(err)
	}
	if err := e.b.NetworkConnect(ctx, "proj_web_1", "proj_default", &dnetwork.EndpointSettings{Aliases: []string{"web", id[:12]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := nets.CreateNetwork(ctx, pnetwork.NetworkSpec{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if err := e.b.NetworkConnect(ctx, "proj_web_1", "other", nil); err != nil {
		t.Fatal(err)
	}
	e.start("proj_web_1")
	ns := e.inspect("proj_web_1").NetworkSettings
	if p := ns.Ports["80/tcp"]; len(p) != 1 || p[0].HostPort != "8080" {
		t.Fatalf("80/tcp after disconnect and connect: %+v", ns.Ports)
	}
	eps, _ := nets.Endpoints(ctx, id)
	if len(eps) != 2 || len(eps[0].Ports) != 1 || len(eps[1].Ports) != 0 {
		t.Fatalf("endpoints: %+v", eps)
	}
}

// TestLinksOnUserNetwork: compose v1's `run` links the one-off container
// to the service's running containers; on a user-defined network the
// link's alias resolves (in /etc/hosts) to the target's address there.
// On the default bridge links stay a 501, and a target that is not
// running on a shared network is refused.
func TestLinksOnUserNetwork(t *testing.T) {
	e, nets := newNetEnv(t)
	ctx := context.Background()
	if _, err := nets.CreateNetwork(ctx, pnetwork.NetworkSpec{Name: "proj_default"}); err != nil {
		t.Fatal(err)
	}
	user := func(links ...string) *container.HostConfig {
		return &container.HostConfig{NetworkMode: "proj_default", Links: links}
	}
	e.create("proj_app_1", container.Config{Cmd: []string{"sleep"}}, user())
	create := func(name string, hc *container.HostConfig) error {
		_, err := e.b.ContainerCreate(ctx, containerrouter.CreateConfig{Name: name, Config: &container.Config{Image: "busybox", Cmd: []string{"true"}}, HostConfig: hc})
		return err
	}
	if err := create("early", user("proj_app_1:app_1")); !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("link to a created container: %v", err)
	}
	e.start("proj_app_1")
	ip := e.inspect("proj_app_1").NetworkSettings.Networks["proj_default"].IPAddress
	id := e.create("proj_app_run_1", container.Config{Cmd: []string{"true"}}, user("proj_app_1:app_1", "proj_app_1:proj_app_1"))
	c, err := e.pl.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Spec.Hosts) != 2 || c.Spec.Hosts[0].IP != ip || strings.Join(c.Spec.Hosts[0].Names, " ") != "app_1 proj_app_1" ||
		strings.Join(c.Spec.Hosts[1].Names, " ") != "proj_app_1" {
		t.Fatalf("hosts %+v, want app_1 and proj_app_1 at %s", c.Spec.Hosts, ip)
	}
	if err := create("onbridge", &container.HostConfig{Links: []string{"proj_app_1:app"}}); !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("link on the default bridge to a container on another network: %v", err)
	}
}

// TestLinksOnBridge: docker's legacy links on the default bridge give
// the linking container the target's address in /etc/hosts and docker's
// environment variables (ALIAS_NAME, ALIAS_PORT_*, ALIAS_ENV_*), which
// the container's own Env overrides.
func TestLinksOnBridge(t *testing.T) {
	e, _ := newNetEnv(t)
	ctx := context.Background()
	e.create("db", container.Config{Cmd: []string{"sleep"}, Hostname: "dbhost", Env: []string{"FOO=1", "HOME=/root"},
		ExposedPorts: nat.PortSet{"5432/tcp": {}, "53/udp": {}}}, nil)
	e.start("db")
	ip := e.inspect("db").NetworkSettings.Networks["bridge"].IPAddress
	id := e.create("web", container.Config{Cmd: []string{"env"}, Env: []string{"MY_DB_ENV_FOO=mine"}}, &container.HostConfig{Links: []string{"db:my-db"}})
	c, err := e.pl.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Spec.Hosts) != 1 || c.Spec.Hosts[0].IP != ip || strings.Join(c.Spec.Hosts[0].Names, " ") != "my-db dbhost db" {
		t.Fatalf("hosts %+v, want my-db dbhost db at %s", c.Spec.Hosts, ip)
	}
	env := strings.Join(c.Spec.Process.Env, "\n") + "\n"
	for _, want := range []string{
		"MY_DB_PORT=udp://" + ip + ":53\n",
		"MY_DB_PORT_5432_TCP=tcp://" + ip + ":5432\n", "MY_DB_PORT_5432_TCP_ADDR=" + ip + "\n",
		"MY_DB_PORT_5432_TCP_PORT=5432\n", "MY_DB_PORT_5432_TCP_PROTO=tcp\n", "MY_DB_PORT_53_UDP=udp://" + ip + ":53\n",
		"MY_DB_NAME=/web/my-db\n", "MY_DB_ENV_FOO=mine\n",
	} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "MY_DB_ENV_HOME") || strings.Contains(env, "MY_DB_ENV_FOO=1") {
		t.Errorf("env has the target's HOME or the overridden FOO:\n%s", env)
	}
	if cfg := e.inspect("web").Config; strings.Contains(strings.Join(cfg.Env, " "), "MY_DB_NAME") {
		t.Errorf("link variables show in the container's Config.Env: %v", cfg.Env)
	}
	// docker rm --link web/my-db drops the link from web's configuration.
	if err := e.b.ContainerRemoveLink(ctx, "web/nope"); !errdefs.IsNotFound(err) {
		t.Errorf("rm --link of a link web lacks: %v", err)
	}
	if err := e.b.ContainerRemoveLink(ctx, "/web/my-db"); err != nil {
		t.Fatal(err)
	}
	if l := e.inspect("web").HostConfig.Links; len(l) != 0 {
		t.Errorf("links after rm --link: %v", l)
	}
	if err := e.b.ContainerRemoveLink(ctx, "web"); !errdefs.IsConflict(err) {
		t.Errorf("rm --link of a container name: %v", err)
	}
}

// TestMACAddress: --mac-address (Config.MacAddress from clients below API
// 1.44, EndpointSettings.MacAddress above) is the NIC's MAC and shows in
// inspect; one that does not parse is dockerd's 400.
func TestMACAddress(t *testing.T) {
	e, _ := newNetEnv(t)
	ctx := context.Background()
	//lint:ignore SA1019 the field old clients send
	e.create("old", container.Config{Cmd: []string{"sleep"}, MacAddress: "02:42:AC:11:00:0A"}, nil)
	if got := e.inspect("old").NetworkSettings.Networks["bridge"].MacAddress; got != "02:42:ac:11:00:0a" {
		t.Errorf("created: MacAddress %q", got)
	}
	e.start("old")
	ns := e.inspect("old").NetworkSettings
	//lint:ignore SA1019 docker-py reads the top-level field
	if ns.Networks["bridge"].MacAddress != "02:42:ac:11:00:0a" || ns.MacAddress != "02:42:ac:11:00:0a" {
		t.Errorf("running: %+v", ns.Networks["bridge"])
	}
	_, err := e.b.ContainerCreate(ctx, containerrouter.CreateConfig{Name: "bad", Config: &container.Config{Image: "busybox", Cmd: []string{"true"}},
		NetworkingConfig: &dnetwork.NetworkingConfig{EndpointsConfig: map[string]*dnetwork.EndpointSettings{"bridge": {MacAddress: "02:42:zz"}}}})
	if !errdefs.IsInvalidParameter(err) || err.Error() != "invalid MAC address 02:42:zz" {
		t.Errorf("bad MAC: %v", err)
	}
}
