package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vchproject/vch/errdefs"
)

func TestOrder(t *testing.T) {
	depsOf := map[string][]string{
		"virtio":         {"virtio_ring"},
		"virtio_mmio":    {"virtio", "virtio_ring"},
		"virtio_pci":     {"virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio", "virtio_ring"},
		"virtio_net":     {"net_failover", "virtio", "virtio_ring"},
		"net_failover":   {"failover"},
		"virtio_blk":     {"virtio", "virtio_ring"},
		"cycle_a":        {"cycle_b"},
		"cycle_b":        {"cycle_a"},
		"needs_missing":  {"not_there"},
		"needs_built_in": {"ext4"},
	}
	files := map[string]bool{}
	for k, v := range depsOf {
		files[k] = true
		for _, d := range v {
			if d != "not_there" && d != "ext4" {
				files[d] = true
			}
		}
	}
	files["overlay"] = true
	files["virtio_ring"] = true
	builtin := map[string]bool{"ext4": true}
	has := func(n string) bool { return files[n] }
	deps := func(n string) ([]string, error) { return depsOf[n], nil }

	for _, tc := range []struct {
		name    string
		want    []string
		out     []string
		errLike error
	}{
		{"field notes order is kept", []string{"virtio_ring", "virtio", "virtio_mmio", "failover", "net_failover", "virtio_net", "virtio_blk", "overlay"},
			[]string{"virtio_ring", "virtio", "virtio_mmio", "failover", "net_failover", "virtio_net", "virtio_blk", "overlay"}, nil},
		{"dependencies first", []string{"virtio_net"},
			[]string{"failover", "net_failover", "virtio_ring", "virtio", "virtio_net"}, nil},
		{"pci pulls its helpers", []string{"virtio_pci"},
			[]string{"virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_ring", "virtio", "virtio_pci"}, nil},
		{"built in dropped", []string{"ext4", "needs_built_in"}, []string{"needs_built_in"}, nil},
		{"duplicates once", []string{"virtio", "virtio", "virtio_ring"}, []string{"virtio_ring", "virtio"}, nil},
		{"missing", []string{"nope"}, nil, errdefs.ErrNotFound},
		{"missing dependency", []string{"needs_missing"}, nil, errdefs.ErrNotFound},
		{"cycle", []string{"cycle_a"}, nil, errdefs.ErrFailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Order(tc.want, builtin, has, deps)
			if tc.errLike != nil {
				if !errors.Is(err, tc.errLike) {
					t.Fatalf("err = %v, want class %v", err, tc.errLike)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.out) {
				t.Fatalf("got %v, want %v", got, tc.out)
			}
		})
	}
}

func TestParseDepends(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"license=GPL\x00depends=virtio,virtio_ring\x00intree=Y\x00", []string{"virtio", "virtio_ring"}},
		{"depends=\x00", nil},
		{"license=GPL\x00", nil},
		{"depends=virtio-rng\x00", []string{"virtio_rng"}},
	} {
		if got := parseDepends([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseDepends(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/virtio/virtio_ring.ko":        "virtio_ring",
		"kernel/drivers/char/hw_random/virtio-rng.ko": "virtio_rng",
		"kernel/fs/ext4/ext4.ko.xz":                   "ext4",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindMissing(t *testing.T) {
	_, err := Find(t.TempDir())
	if !errdefs.IsNotFound(err) {
		t.Fatalf("empty dir: %v, want not found", err)
	}
}

// TestFetchedKernel checks the kernel that scripts/fetch-kernel.sh put in
// the default cache: the test suite runs with it fetched.
func TestFetchedKernel(t *testing.T) {
	dir := DefaultDir()
	k, err := Find(dir)
	if err != nil {
		t.Fatalf("%v (fetch it: scripts/fetch-kernel.sh %s)", err, dir)
	}
	mods, err := k.Modules(DefaultModules)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range mods {
		pos[m.Name] = i
		if _, err := os.Stat(m.Path); err != nil {
			t.Errorf("module %s: %v", m.Name, err)
		}
		if filepath.Ext(m.Path) != ".ko" {
			t.Errorf("module %s: unexpected file %s", m.Name, m.Path)
		}
	}
	for _, n := range DefaultModules {
		if _, ok := pos[n]; !ok {
			t.Errorf("module %s missing from %v", n, mods)
		}
	}
	for _, pair := range [][2]string{{"virtio_ring", "virtio"}, {"virtio", "virtio_mmio"}, {"failover", "net_failover"},
		{"net_failover", "virtio_net"}, {"virtio", "virtio_blk"}, {"virtio_pci_modern_dev", "virtio_pci"}} {
		if pos[pair[0]] >= pos[pair[1]] {
			t.Errorf("%s must load before %s: %v", pair[0], pair[1], mods)
		}
	}
	if _, ok := pos["ext4"]; ok {
		t.Errorf("ext4 is built in, yet listed: %v", mods)
	}
}
