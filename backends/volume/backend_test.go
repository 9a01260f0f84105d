package volume

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/filters"
	dvolume "github.com/docker/docker/api/types/volume"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	computefake "github.com/vchproject/vch/portlayer/compute/fake"
	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/volume/fake"
)

func TestParseCapacity(t *testing.T) {
	for in, want := range map[string]int64{
		"1G": 1 << 30, "1GB": 1 << 30, "1gb": 1 << 30, "512": 512 << 20, "512MB": 512 << 20, "64M": 64 << 20,
		"2048KB": 2 << 20, "1TB": 1 << 40, " 3 GB ": 3 << 30,
	} {
		got, err := ParseCapacity(in)
		if err != nil || got != want {
			t.Errorf("ParseCapacity(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "0", "-1", "1.5G", "1PB", "lots", "99999999999999TB"} {
		if _, err := ParseCapacity(in); !errdefs.IsInvalidParameter(err) {
			t.Errorf("ParseCapacity(%q): %v, want invalid parameter", in, err)
		}
	}
	for n, want := range map[int64]string{1 << 30: "1GB", 1536 << 20: "1536MB", 1 << 40: "1TB", 3 << 10: "3KB", 5: "5B"} {
		if got := FormatCapacity(n); got != want {
			t.Errorf("FormatCapacity(%d) = %q, want %q", n, got, want)
		}
	}
}

// newBackend returns a backend over fakes and a compute fake holding one
// container that mounts "used".
func newBackend(t *testing.T) *Backend {
	t.Helper()
	pl := fake.New([]volume.Store{{Label: "default", Path: "/d"}, {Label: "other", Path: "/o"}})
	c := computefake.New()
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	b := New(pl, c, nil)
	ctx := context.Background()
	if _, _, err := b.Ensure(ctx, "used", "", nil, nil, false); err != nil {
		t.Fatal(err)
	}
	err := c.Create(ctx, compute.Spec{ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Image: "sha256:x",
		Process: compute.Process{Args: []string{"true"}}, Mounts: []compute.Mount{{Volume: "used", Path: "/u"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func names(vs []*dvolume.Volume) map[string]bool {
	out := map[string]bool{}
	for _, v := range vs {
		out[v.Name] = true
	}
	return out
}

func TestCreateListFiltersRemovePrune(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	v, err := b.VolumeCreate(ctx, dvolume.CreateOptions{Name: "named", DriverOpts: map[string]string{"volumestore": "other", "capacity": "2G"}, Labels: map[string]string{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Options[OptVolumeStore] != "other" || v.Options[OptCapacity] != "2GB" || v.Status["StorePath"] != "/o" || v.Driver != Driver {
		t.Fatalf("created %+v", v)
	}
	anon, _, err := b.Ensure(ctx, "", "", nil, nil, true)
	if err != nil || len(anon) != 64 {
		t.Fatalf("anonymous: %q %v", anon, err)
	}
	for _, tc := range []struct {
		f    filters.Args
		want []string
	}{
		{filters.NewArgs(), []string{"used", "named", anon}},
		{filters.NewArgs(filters.Arg("dangling", "true")), []string{"named", anon}},
		{filters.NewArgs(filters.Arg("dangling", "false")), []string{"used"}},
		{filters.NewArgs(filters.Arg("name", "nam")), []string{"named"}},
		{filters.NewArgs(filters.Arg("label", "a=1")), []string{"named"}},
		{filters.NewArgs(filters.Arg("label", AnonymousLabel)), []string{anon}},
		{filters.NewArgs(filters.Arg("driver", "local")), []string{"used", "named", anon}},
		{filters.NewArgs(filters.Arg("driver", "other")), nil},
	} {
		got, err := b.VolumeList(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		n := names(got)
		if len(n) != len(tc.want) {
			t.Errorf("filter %v: got %v, want %v", tc.f, n, tc.want)
		}
		for _, w := range tc.want {
			if !n[w] {
				t.Errorf("filter %v: got %v, want %v", tc.f, n, tc.want)
			}
		}
	}
	for _, f := range []filters.Args{filters.NewArgs(filters.Arg("color", "x")), filters.NewArgs(filters.Arg("dangling", "maybe"))} {
		if _, err := b.VolumeList(ctx, f); !errdefs.IsInvalidParameter(err) {
			t.Errorf("filter %v: %v", f, err)
		}
	}
	if err := b.VolumeRemove(ctx, "used", false); !errdefs.IsConflict(err) || err.Error() != "remove used: volume is in use - [0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef]" {
		t.Fatalf("remove in use: %v", err)
	}
	if err := b.VolumeRemove(ctx, "nope", false); !errdefs.IsNotFound(err) {
		t.Fatalf("remove unknown: %v", err)
	}
	if err := b.VolumeRemove(ctx, "nope", true); err != nil {
		t.Fatalf("force remove unknown: %v", err)
	}
	rep, err := b.VolumePrune(ctx, filters.NewArgs())
	if err != nil || len(rep.VolumesDeleted) != 1 || rep.VolumesDeleted[0] != anon {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	rep, err = b.VolumePrune(ctx, filters.NewArgs(filters.Arg("all", "true"), filters.Arg("label!", "a=1")))
	if err != nil || len(rep.VolumesDeleted) != 0 {
		t.Fatalf("prune all label!=a=1: %+v %v", rep, err)
	}
	rep, err = b.VolumePrune(ctx, filters.NewArgs(filters.Arg("all", "true")))
	if err != nil || len(rep.VolumesDeleted) != 1 || rep.VolumesDeleted[0] != "named" {
		t.Fatalf("prune all: %+v %v", rep, err)
	}
}

func TestCreateBadInput(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	for _, tc := range []struct {
		opts  dvolume.CreateOptions
		class func(error) bool
	}{
		{dvolume.CreateOptions{Name: "v1", DriverOpts: map[string]string{"VolumeStore": "nope"}}, errdefs.IsNotFound},
		{dvolume.CreateOptions{Name: "v1", DriverOpts: map[string]string{"Capacity": "x"}}, errdefs.IsInvalidParameter},
		{dvolume.CreateOptions{Name: "v1", DriverOpts: map[string]string{"Size": "1"}}, errdefs.IsInvalidParameter},
		{dvolume.CreateOptions{Name: "a/b"}, errdefs.IsInvalidParameter},
		{dvolume.CreateOptions{Name: "v1", Driver: "nfs"}, errdefs.IsNotFound},
	} {
		if _, err := b.VolumeCreate(ctx, tc.opts); !tc.class(err) {
			t.Errorf("create %+v: %v", tc.opts, err)
		}
	}
	got, _ := b.VolumeList(ctx, filters.NewArgs())
	if len(got) != 1 {
		t.Fatalf("bad input left volumes: %v", names(got))
	}
}
