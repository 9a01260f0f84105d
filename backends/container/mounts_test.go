package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/vchproject/vch/errdefs"
)

func TestParseMounts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hc    container.HostConfig
		vols  map[string]struct{}
		want  []MountRecord // volumes then tmpfs
		class func(error) bool
	}{
		{name: "named rw", hc: container.HostConfig{Binds: []string{"data:/data"}},
			want: []MountRecord{{Type: "volume", Name: "data", Destination: "/data", RW: true, Mode: "z"}}},
		{name: "named ro nocopy", hc: container.HostConfig{Binds: []string{"data:/data/:ro,nocopy"}},
			want: []MountRecord{{Type: "volume", Name: "data", Destination: "/data", Mode: "ro,nocopy", NoCopy: true}}},
		{name: "anonymous from config", vols: map[string]struct{}{"/b": {}, "/a": {}},
			want: []MountRecord{{Type: "volume", Destination: "/a", RW: true, Anonymous: true}, {Type: "volume", Destination: "/b", RW: true, Anonymous: true}}},
		{name: "explicit wins over image VOLUME", hc: container.HostConfig{Binds: []string{"data:/data"}}, vols: map[string]struct{}{"/data": {}},
			want: []MountRecord{{Type: "volume", Name: "data", Destination: "/data", RW: true, Mode: "z"}}},
		{name: "--mount volume", hc: container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "v1", Target: "/v", ReadOnly: true,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true, DriverConfig: &mount.Driver{Options: map[string]string{"Capacity": "64"}}}}}},
			want: []MountRecord{{Type: "volume", Name: "v1", Destination: "/v", NoCopy: true}}},
		{name: "--mount anonymous", hc: container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/v"}}},
			want: []MountRecord{{Type: "volume", Destination: "/v", RW: true, Anonymous: true}}},
		{name: "tmpfs", hc: container.HostConfig{Tmpfs: map[string]string{"/run": "size=64m,ro"}},
			want: []MountRecord{{Type: "tmpfs", Destination: "/run", Options: "size=64m,ro"}}},
		{name: "--mount tmpfs", hc: container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1777}}}},
			want: []MountRecord{{Type: "tmpfs", Destination: "/t", RW: true, Options: "size=1048576,mode=1777"}}},
		{name: "bind", hc: container.HostConfig{Binds: []string{"/srv/a:/x", "/srv/b:/y:ro,z"}},
			want: []MountRecord{{Type: "bind", Source: "/srv/a", Destination: "/x", RW: true, MakeSource: true}, {Type: "bind", Source: "/srv/b", Destination: "/y", Mode: "ro,z", MakeSource: true}}},
		{name: "--mount bind", hc: container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/etc", Target: "/x", ReadOnly: true}}},
			want: []MountRecord{{Type: "bind", Source: "/etc", Destination: "/x"}}},
		{name: "bind relative", hc: container.HostConfig{Binds: []string{"./here:/x"}}, class: errdefs.IsInvalidParameter},
		{name: "--mount bind relative", hc: container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "here", Target: "/x"}}}, class: errdefs.IsInvalidParameter},
		{name: "bind bad mode", hc: container.HostConfig{Binds: []string{"/srv/a:/x:nocopy"}}, class: errdefs.IsInvalidParameter},
		{name: "duplicate", hc: container.HostConfig{Binds: []string{"a1:/x", "b1:/x/"}}, class: errdefs.IsInvalidParameter},
		{name: "duplicate tmpfs", hc: container.HostConfig{Binds: []string{"a1:/x"}, Tmpfs: map[string]string{"/x": ""}}, class: errdefs.IsInvalidParameter},
		{name: "relative", hc: container.HostConfig{Binds: []string{"a1:x"}}, class: errdefs.IsInvalidParameter},
		{name: "root", hc: container.HostConfig{Binds: []string{"a1:/"}}, class: errdefs.IsInvalidParameter},
		{name: "bad mode", hc: container.HostConfig{Binds: []string{"a1:/x:rx"}}, class: errdefs.IsInvalidParameter},
		{name: "bad spec", hc: container.HostConfig{Binds: []string{"a1"}}, class: errdefs.IsInvalidParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vols, tmpfs, err := parseMounts(&tc.hc, &container.Config{Volumes: tc.vols})
			if tc.class != nil {
				if !tc.class(err) {
					t.Fatalf("err = %v, want its class", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []MountRecord
			for _, v := range vols {
				got = append(got, v.rec)
			}
			got = append(got, tmpfs...)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("mount %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// bindSource: only directories under an allowed root, symlinks resolved
// and checked again; refusals are 403 and say why.
func TestBindSource(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "allowed")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(allowed, "sub"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(allowed, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(allowed, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(allowed, "inside")); err != nil {
		t.Fatal(err)
	}
	b := &Backend{cfg: Config{BindAllow: []string{allowed}}}
	for _, tc := range []struct {
		src   string
		want  string
		class func(error) bool
		text  string
	}{
		{src: allowed, want: allowed},
		{src: allowed + "/sub/", want: filepath.Join(allowed, "sub")},
		{src: filepath.Join(allowed, "inside"), want: filepath.Join(allowed, "sub")},
		{src: outside, class: errdefs.IsForbidden, text: "is not under a directory this VCH allows"},
		{src: allowed + "/../outside", class: errdefs.IsForbidden, text: "is not under"},
		{src: filepath.Join(allowed, "escape"), class: errdefs.IsForbidden, text: "its target " + outside},
		{src: filepath.Join(allowed, "missing"), class: errdefs.IsInvalidParameter, text: "bind source path does not exist"},
		{src: filepath.Join(allowed, "file"), class: errdefs.IsInvalidParameter, text: "only directories"},
	} {
		got, err := b.bindSource(tc.src, false)
		if tc.class == nil {
			if err != nil || got != tc.want {
				t.Errorf("bindSource(%s) = %q, %v; want %q", tc.src, got, err, tc.want)
			}
			continue
		}
		if !tc.class(err) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("bindSource(%s) = %q, %v; want an error with %q", tc.src, got, err, tc.text)
		}
	}
	none := &Backend{}
	if _, err := none.bindSource(allowed, false); !errdefs.IsForbidden(err) || !strings.Contains(err.Error(), "--bind-allow") {
		t.Errorf("without allowed roots: %v", err)
	}
}

// Binds are checked again at every start: a directory swapped for a
// symlink that leads out, or a root no longer allowed, stops the start
// with a 403 and the VM is never given the directory.
func TestBindCheckedAtStart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := t.TempDir()
	allowed, outside := filepath.Join(root, "allowed"), filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(allowed, "data"), filepath.Join(allowed, "kept"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.b.cfg.BindAllow = []string{allowed}
	e.create("swapped", container.Config{Cmd: []string{"sleep"}}, &container.HostConfig{Binds: []string{filepath.Join(allowed, "data") + ":/data"}})
	e.create("kept", container.Config{Cmd: []string{"sleep"}}, &container.HostConfig{Binds: []string{filepath.Join(allowed, "kept") + ":/data"}})
	if err := os.Remove(filepath.Join(allowed, "data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(allowed, "data")); err != nil {
		t.Fatal(err)
	}
	if err := e.b.ContainerStart(ctx, "swapped"); !errdefs.IsForbidden(err) || !strings.Contains(err.Error(), outside) {
		t.Fatalf("start after the swap: %v, want 403 naming %s", err, outside)
	}
	e.start("kept")
	if err := e.b.ContainerKill(ctx, "kept", ""); err != nil {
		t.Fatal(err)
	}
	e.wait("kept", container.WaitConditionNotRunning)
	e.b.cfg.BindAllow = []string{filepath.Join(root, "elsewhere")}
	if err := e.b.ContainerStart(ctx, "kept"); !errdefs.IsForbidden(err) {
		t.Fatalf("start after --bind-allow narrowed: %v, want 403", err)
	}
}

// A -v bind's missing directory is made, as docker does, but only below
// an existing directory that resolves under an allowed root; --mount's is
// refused (TestBindSource).
func TestBindSourceMakesMissing(t *testing.T) {
	root := t.TempDir()
	allowed, outside := filepath.Join(root, "allowed"), filepath.Join(root, "outside")
	for _, d := range []string{allowed, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(allowed, "escape")); err != nil {
		t.Fatal(err)
	}
	b := &Backend{cfg: Config{BindAllow: []string{allowed}}}
	want := filepath.Join(allowed, "new", "deeper")
	if got, err := b.bindSource(want, true); err != nil || got != want {
		t.Fatalf("bindSource of a missing dir = %q, %v; want it made", got, err)
	}
	if fi, err := os.Stat(want); err != nil || !fi.IsDir() {
		t.Fatalf("made directory: %v, %v", fi, err)
	}
	_, err := b.bindSource(filepath.Join(allowed, "escape", "made"), true)
	if !errdefs.IsForbidden(err) {
		t.Fatalf("missing dir behind a symlink that leads out: %v, want 403", err)
	}
	if _, serr := os.Stat(filepath.Join(outside, "made")); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("a directory was made outside the allowed root: %v", serr)
	}
	if _, err := b.bindSource(filepath.Join(root, "elsewhere", "x"), true); !errdefs.IsForbidden(err) {
		t.Fatalf("missing dir outside the roots: %v, want 403", err)
	}
	if _, serr := os.Stat(filepath.Join(root, "elsewhere")); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("a directory was made outside the allowed roots: %v", serr)
	}
}
