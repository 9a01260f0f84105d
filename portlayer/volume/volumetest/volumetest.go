// Package volumetest is the conformance suite of volume.Provider. Every
// provider (local, the in-memory fake, a future vSphere one) runs it:
//
//	volumetest.Run(t, func(t *testing.T, stores []volume.Store) volumetest.Instance {
//		p, err := local.New(stores, nil)
//		...
//		return volumetest.Instance{Provider: p, Reopen: func() volume.Provider { ... }}
//	})
//
// The suite gives each subtest fresh stores ("default" and "other") under
// t.TempDir().
package volumetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/volume"
)

// Instance is a provider under test. Reopen, if not nil, opens a new
// provider over the same stores (a vchd restart).
type Instance struct {
	Provider volume.Provider
	Reopen   func() volume.Provider
	// DiskVolumes says the provider's volumes are disks that one VM at a
	// time attaches (vSphere VMDKs), never shared directories: Attach
	// and SharedFiles then hold it to that contract instead.
	DiskVolumes bool
}

// Factory makes an instance over stores.
type Factory func(t *testing.T, stores []volume.Store) Instance

// Run runs the suite.
func Run(t *testing.T, factory Factory) {
	tests := []struct {
		name string
		fn   func(ctx context.Context, t *testing.T, in Instance)
	}{
		{"Stores", stores},
		{"CreateDefaults", createDefaults},
		{"CreateInStore", createInStore},
		{"CreateDuplicate", createDuplicate},
		{"CreateConcurrent", createConcurrent},
		{"UnknownStore", unknownStore},
		{"InvalidInput", invalidInput},
		{"RemoveAndReuse", removeAndReuse},
		{"Attach", attach},
		{"SharedFiles", sharedFiles},
		{"Reopen", reopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			st := []volume.Store{
				{Label: volume.DefaultStore, Path: filepath.Join(root, "default")},
				{Label: "other", Path: filepath.Join(root, "other")},
			}
			tc.fn(context.Background(), t, factory(t, st))
		})
	}
}

func stores(ctx context.Context, t *testing.T, in Instance) {
	got := in.Provider.Stores()
	if len(got) != 2 || got[0].Label != volume.DefaultStore || got[1].Label != "other" {
		t.Fatalf("Stores() = %+v, want default and other in order", got)
	}
}

func createDefaults(ctx context.Context, t *testing.T, in Instance) {
	p := in.Provider
	v, err := p.Create(ctx, volume.CreateOptions{Name: "vol1", Labels: map[string]string{"a": "b"}, Options: map[string]string{"x": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "vol1" || v.Store != volume.DefaultStore || v.Capacity != volume.DefaultCapacity {
		t.Fatalf("created %+v, want vol1 in default with 1 GB", v)
	}
	if v.Labels["a"] != "b" || v.Options["x"] != "y" || v.Created.IsZero() || v.Location == "" {
		t.Fatalf("created %+v: labels, options, created or location missing", v)
	}
	got, err := p.Get(ctx, "vol1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != v.Name || got.Capacity != v.Capacity || got.Labels["a"] != "b" || !got.Created.Equal(v.Created) {
		t.Fatalf("Get = %+v, want %+v", got, v)
	}
	list, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "vol1" {
		t.Fatalf("List = %+v", list)
	}
}

func createInStore(ctx context.Context, t *testing.T, in Instance) {
	v, err := in.Provider.Create(ctx, volume.CreateOptions{Name: "vol2", Store: "other", Capacity: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if v.Store != "other" || v.Capacity != 64<<20 {
		t.Fatalf("created %+v, want store other with 64 MB", v)
	}
}

func createDuplicate(ctx context.Context, t *testing.T, in Instance) {
	p := in.Provider
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "dup"}); err != nil {
		t.Fatal(err)
	}
	// A name is unique across stores.
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "dup", Store: "other"}); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want already exists", err)
	}
}

func createConcurrent(ctx context.Context, t *testing.T, in Instance) {
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = in.Provider.Create(ctx, volume.CreateOptions{Name: "race", Capacity: 16 << 20})
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errdefs.IsAlreadyExists(err):
			t.Errorf("concurrent create: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent creates of one name succeeded, want 1", ok, n)
	}
}

func unknownStore(ctx context.Context, t *testing.T, in Instance) {
	_, err := in.Provider.Create(ctx, volume.CreateOptions{Name: "vv", Store: "nope"})
	if !errdefs.IsNotFound(err) {
		t.Fatalf("create in unknown store: %v, want not found", err)
	}
	assertEmpty(ctx, t, in.Provider)
}

func invalidInput(ctx context.Context, t *testing.T, in Instance) {
	for _, o := range []volume.CreateOptions{
		{Name: "a/b"}, {Name: ""}, {Name: "x"}, {Name: "../up"}, {Name: "-lead"},
		{Name: "tiny", Capacity: 1 << 20}, {Name: "neg", Capacity: -1},
	} {
		if _, err := in.Provider.Create(ctx, o); !errdefs.IsInvalidParameter(err) {
			t.Errorf("create %+v: %v, want invalid parameter", o, err)
		}
	}
	assertEmpty(ctx, t, in.Provider)
}

func removeAndReuse(ctx context.Context, t *testing.T, in Instance) {
	p := in.Provider
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "gone", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, "gone"); !errdefs.IsNotFound(err) {
		t.Fatalf("Get after remove: %v, want not found", err)
	}
	if err := p.Remove(ctx, "gone"); !errdefs.IsNotFound(err) {
		t.Fatalf("second remove: %v, want not found", err)
	}
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "gone", Store: "other", Capacity: 16 << 20}); err != nil {
		t.Fatalf("create after remove: %v", err)
	}
}

func attach(ctx context.Context, t *testing.T, in Instance) {
	p := in.Provider
	if _, err := p.Attach(ctx, "none"); !errdefs.IsNotFound(err) {
		t.Fatalf("Attach of unknown volume: %v, want not found", err)
	}
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "d1", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "d2", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	a, err1 := p.Attach(ctx, "d1")
	b, err2 := p.Attach(ctx, "d2")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if in.DiskVolumes {
		// A disk per volume, never a directory, and never shared.
		if a.Disk == "" || a.Dir != "" || b.Disk == "" || b.Dir != "" || a.Disk == b.Disk {
			t.Fatalf("Attach = %+v and %+v, want two distinct disks", a, b)
		}
		for _, n := range []string{"d1", "d2"} {
			if v, err := p.Get(ctx, n); err != nil || v.Shared {
				t.Fatalf("Get(%s) = %+v, %v: want a volume that is not shared", n, v, err)
			}
		}
		return
	}
	// New volumes are shared: a directory, never a raw disk.
	if a.Dir == "" || a.Disk != "" || b.Dir == "" || a.Dir == b.Dir {
		t.Fatalf("Attach = %+v and %+v, want two distinct directories", a, b)
	}
	for _, n := range []string{"d1", "d2"} {
		v, err := p.Get(ctx, n)
		if err != nil || !v.Shared {
			t.Fatalf("Get(%s) = %+v, %v: want a shared volume", n, v, err)
		}
	}
}

// sharedFiles: every Attach of a volume gives the same files (what two
// running containers see), a removed volume's files are gone, and a new
// volume of the same name starts empty.
func sharedFiles(ctx context.Context, t *testing.T, in Instance) {
	if in.DiskVolumes {
		sameDisk(ctx, t, in)
		return
	}
	p := in.Provider
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "shared", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	a, err := p.Attach(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.Dir, "from-a"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := p.Attach(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(b.Dir, "from-a"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("second attachment reads %q, %v; want the first one's write", got, err)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "from-b"), []byte("back"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(a.Dir, "from-b")); err != nil || string(got) != "back" {
		t.Fatalf("first attachment reads %q, %v; want the second one's write", got, err)
	}
	if in.Reopen != nil {
		q := in.Reopen()
		c, err := q.Attach(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(c.Dir, "from-b")); err != nil || string(got) != "back" {
			t.Fatalf("after reopen reads %q, %v", got, err)
		}
		p = q
	}
	if err := p.Remove(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "shared", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	c, err := p.Attach(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "from-a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a new volume of a removed one's name has its files: %v", err)
	}
	if err := p.Remove(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
}

// sameDisk is SharedFiles for disk volumes: every Attach of a volume
// names the same disk, also after a reopen; a removed volume has none,
// and a new volume of its name attaches again.
func sameDisk(ctx context.Context, t *testing.T, in Instance) {
	p := in.Provider
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "shared", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	a, err1 := p.Attach(ctx, "shared")
	b, err2 := p.Attach(ctx, "shared")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if a.Disk == "" || a != b {
		t.Fatalf("two Attach calls = %+v and %+v, want the same disk", a, b)
	}
	if in.Reopen != nil {
		q := in.Reopen()
		c, err := q.Attach(ctx, "shared")
		if err != nil || c != a {
			t.Fatalf("after reopen Attach = %+v, %v; want %+v", c, err, a)
		}
		p = q
	}
	if err := p.Remove(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Attach(ctx, "shared"); !errdefs.IsNotFound(err) {
		t.Fatalf("Attach of a removed volume: %v, want not found", err)
	}
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "shared", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	if c, err := p.Attach(ctx, "shared"); err != nil || c.Disk == "" {
		t.Fatalf("Attach of a new volume of the name = %+v, %v", c, err)
	}
	if err := p.Remove(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
}

func reopen(ctx context.Context, t *testing.T, in Instance) {
	if in.Reopen == nil {
		t.Skip("this provider keeps volumes in memory only; nothing outlives it")
	}
	p := in.Provider
	want, err := p.Create(ctx, volume.CreateOptions{Name: "kept", Store: "other", Capacity: 32 << 20, Labels: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "dropped", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(ctx, "dropped"); err != nil {
		t.Fatal(err)
	}
	q := in.Reopen()
	got, err := q.Get(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if got.Store != "other" || got.Capacity != want.Capacity || got.Labels["k"] != "v" || !got.Created.Equal(want.Created) {
		t.Fatalf("after reopen %+v, want %+v", got, want)
	}
	if _, err := q.Get(ctx, "dropped"); !errdefs.IsNotFound(err) {
		t.Fatalf("removed volume after reopen: %v", err)
	}
}

func assertEmpty(ctx context.Context, t *testing.T, p volume.Provider) {
	t.Helper()
	list, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("bad input left volumes behind: %+v", list)
	}
}
