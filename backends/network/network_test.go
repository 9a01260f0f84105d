package network

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/errdefs"
	cfake "github.com/vchproject/vch/portlayer/compute/fake"
	"github.com/vchproject/vch/portlayer/network"
	nfake "github.com/vchproject/vch/portlayer/network/fake"
)

func TestListAndInspect(t *testing.T) {
	ctx := context.Background()
	nets := nfake.New()
	b := New(nets, cfake.New(), func(string) string { return "/web" })
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
