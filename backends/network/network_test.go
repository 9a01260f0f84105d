package network

import (
	"context"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	dnetwork "github.com/docker/docker/api/types/network"

	"github.com/vchproject/vch/errdefs"
	cfake "github.com/vchproject/vch/portlayer/compute/fake"
	"github.com/vchproject/vch/portlayer/network"
	nfake "github.com/vchproject/vch/portlayer/network/fake"
)

func TestListAndInspect(t *testing.T) {
	ctx := context.Background()
	nets := nfake.New()
	b := New(nets, cfake.New(), func(string) string { return "/web" }, nil)
	all, err := b.NetworkList(ctx, filters.NewArgs())
	if err != nil || len(all) != 1 || all[0].Name != "bridge" || all[0].Driver != "bridge" || all[0].Scope != "local" ||
		len(all[0].IPAM.Config) != 1 || all[0].IPAM.Config[0].Subnet != "172.16.0.0/16" || all[0].IPAM.Config[0].Gateway != "172.16.0.1" {
		t.Fatalf("ls: %+v %v", all, err)
	}
	for _, tc := range []struct {
		f    filters.Args
		want int
	}{
		{filters.NewArgs(filters.Arg("name", "bri")), 1},
		{filters.NewArgs(filters.Arg("name", "public")), 0},
		{filters.NewArgs(filters.Arg("driver", "bridge")), 1},
		{filters.NewArgs(filters.Arg("id", all[0].ID[:6])), 1},
		{filters.NewArgs(filters.Arg("type", "custom")), 0},
	} {
		got, err := b.NetworkList(ctx, tc.f)
		if err != nil || len(got) != tc.want {
			t.Fatalf("ls %v: %d %v", tc.f, len(got), err)
		}
	}
	if _, err := b.NetworkList(ctx, filters.NewArgs(filters.Arg("bogus", "x"))); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad filter: %v", err)
	}
	n, err := b.NetworkInspect(ctx, all[0].ID[:12])
	if err != nil || n.Name != network.BridgeName || len(n.Containers) != 0 {
		t.Fatalf("inspect: %+v %v", n, err)
	}
	if _, err := b.NetworkInspect(ctx, "nosuch"); !errdefs.IsNotFound(err) || err.Error() != "network nosuch not found" {
		t.Fatalf("inspect unknown: %v", err)
	}
}

func TestCreateRemovePrune(t *testing.T) {
	ctx := context.Background()
	nets := nfake.New()
	b := New(nets, cfake.New(), func(string) string { return "/web" }, nil)
	mk := func(name, subnet string, labels map[string]string) (dnetwork.CreateResponse, error) {
		req := dnetwork.CreateRequest{Name: name, CreateOptions: dnetwork.CreateOptions{Driver: "bridge", Labels: labels}}
		if subnet != "" {
			req.IPAM = &dnetwork.IPAM{Config: []dnetwork.IPAMConfig{{Subnet: subnet, IPRange: subnet, Gateway: ""}}}
		}
		return b.NetworkCreate(ctx, req)
	}
	front, err := mk("front", "10.77.0.0/24", map[string]string{"team": "a"})
	if err != nil || len(front.ID) != 64 {
		t.Fatalf("create: %+v %v", front, err)
	}
	if _, err := mk("back", "", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		class func(error) bool
	}{
		{"bridge", errdefs.IsForbidden},
		{"host", errdefs.IsForbidden},
		{"", errdefs.IsInvalidParameter},
		{"-bad", errdefs.IsInvalidParameter},
		{"front", errdefs.IsConflict},
	} {
		if _, err := mk(tc.name, "", nil); !tc.class(err) {
			t.Errorf("create %q: %v", tc.name, err)
		}
	}
	if _, err := b.NetworkCreate(ctx, dnetwork.CreateRequest{Name: "x", CreateOptions: dnetwork.CreateOptions{IPAM: &dnetwork.IPAM{Config: []dnetwork.IPAMConfig{{Subnet: "nonsense"}}}}}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad subnet: %v", err)
	}
	if _, err := b.NetworkCreate(ctx, dnetwork.CreateRequest{Name: "x", CreateOptions: dnetwork.CreateOptions{Driver: "overlay"}}); !errdefs.IsNotFound(err) {
		t.Errorf("overlay: %v", err)
	}
	names := func(f filters.Args) string {
		t.Helper()
		got, err := b.NetworkList(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range got {
			out = append(out, n.Name)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		f    filters.Args
		want string
	}{
		{filters.NewArgs(), "bridge front back"},
		{filters.NewArgs(filters.Arg("type", "custom")), "front back"},
		{filters.NewArgs(filters.Arg("type", "builtin")), "bridge"},
		{filters.NewArgs(filters.Arg("label", "team=a")), "front"},
		{filters.NewArgs(filters.Arg("label", "team")), "front"},
		{filters.NewArgs(filters.Arg("dangling", "true")), "front back"},
		{filters.NewArgs(filters.Arg("dangling", "false")), "bridge"},
	} {
		if got := names(tc.f); got != tc.want {
			t.Errorf("ls %v: %q, want %q", tc.f, got, tc.want)
		}
	}
	if _, err := b.NetworkList(ctx, filters.NewArgs(filters.Arg("dangling", "maybe"))); !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad dangling: %v", err)
	}
	n, err := b.NetworkInspect(ctx, "front")
	if err != nil || n.IPAM.Config[0].IPRange != "10.77.0.0/24" || n.Labels["team"] != "a" || n.Options["com.docker.network.bridge.default_bridge"] != "" {
		t.Fatalf("inspect front: %+v %v", n, err)
	}
	// A joined network is neither dangling nor pruned nor removable.
	const c = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
	if _, err := nets.Join(ctx, c, network.EndpointSpec{Network: "front"}); err != nil {
		t.Fatal(err)
	}
	if got := names(filters.NewArgs(filters.Arg("dangling", "true"))); got != "back" {
		t.Errorf("dangling with front joined: %q", got)
	}
	if err := b.NetworkRemove(ctx, "front"); !errdefs.IsForbidden(err) {
		t.Errorf("rm joined: %v", err)
	}
	rep, err := b.NetworksPrune(ctx, filters.NewArgs(filters.Arg("label!", "nothing")))
	if err != nil || strings.Join(rep.NetworksDeleted, " ") != "back" {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	if err := nets.Leave(ctx, c, ""); err != nil {
		t.Fatal(err)
	}
	if rep, err := b.NetworksPrune(ctx, filters.NewArgs(filters.Arg("label", "team=b"))); err != nil || len(rep.NetworksDeleted) != 0 {
		t.Fatalf("prune by another label: %+v %v", rep, err)
	}
	if rep, err := b.NetworksPrune(ctx, filters.NewArgs(filters.Arg("until", "1h"))); err != nil || len(rep.NetworksDeleted) != 0 {
		t.Fatalf("prune until 1h ago: %+v %v", rep, err)
	}
	if err := b.NetworkRemove(ctx, front.ID[:12]); err != nil {
		t.Fatal(err)
	}
	if got := names(filters.NewArgs()); got != "bridge" {
		t.Fatalf("after rm and prune: %q", got)
	}
}

// recorder is an EventLogger that keeps what it is given.
type recorder struct{ evs []string }

func (r *recorder) Log(typ events.Type, action events.Action, actor events.Actor) {
	r.evs = append(r.evs, string(typ)+" "+string(action)+" "+actor.ID+" "+actor.Attributes["name"]+" "+actor.Attributes["type"])
}

// create, rm and prune log docker's network create and destroy; refused
// requests log nothing.
func TestNetworkEvents(t *testing.T) {
	ctx := context.Background()
	b := New(nfake.New(), cfake.New(), func(string) string { return "/web" }, nil)
	rec := &recorder{}
	b.SetEvents(rec)
	a, err := b.NetworkCreate(ctx, dnetwork.CreateRequest{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.NetworkCreate(ctx, dnetwork.CreateRequest{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.NetworkCreate(ctx, dnetwork.CreateRequest{Name: "a"}); err == nil {
		t.Fatal("second create of a")
	}
	if err := b.NetworkRemove(ctx, "bridge"); err == nil {
		t.Fatal("rm bridge")
	}
	if err := b.NetworkRemove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.NetworksPrune(ctx, filters.NewArgs()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"network create " + a.ID + " a bridge", "network create " + c.ID + " c bridge",
		"network destroy " + a.ID + " a bridge", "network destroy " + c.ID + " c bridge",
	}
	if strings.Join(rec.evs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(rec.evs, "\n"), strings.Join(want, "\n"))
	}
}
