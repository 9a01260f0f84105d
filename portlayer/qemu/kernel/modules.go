package kernel

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/vchproject/vch/errdefs"
)

// DefaultModules is what a container VM needs, in an order that loads:
// virtio transports (mmio for microvm, pci for other machines), the
// virtio-serial console, virtio-net, virtio-blk and overlayfs.
var DefaultModules = []string{
	"virtio_ring", "virtio", "virtio_mmio", "virtio_pci",
	"virtio_console", "failover", "net_failover", "virtio_net",
	"virtio_blk", "overlay",
}

// VSphereModules are what a vSphere container VM booting the bootstrap
// ISO adds (initramfs.EnsureVSphere): its PVSCSI controller and SCSI
// disks, vmxnet3 NICs, and fw_cfg (guestinfo under a QEMU standing in for
// ESXi). The 8250 UARTs of its serial ports are built in.
var VSphereModules = []string{"vmw_pvscsi", "sd_mod", "vmxnet3", "qemu_fw_cfg"}

// OnDemandModules are packed into the initramfs but loaded by the tether
// only when a VM needs them: fuse and virtiofs for shared volumes and
// host directories (tether/proto.VirtioFSModules lists their files).
var OnDemandModules = []string{"fuse", "virtiofs"}

// Module is one loadable module file.
type Module struct {
	// Name is the module name, e.g. virtio_blk.
	Name string
	// Path is the .ko file on the host.
	Path string
}

// FileName is the module's file name in the initramfs (/lib/modules/<name>.ko).
func (m Module) FileName() string { return m.Name + ".ko" }

// Modules returns the module files that must be loaded, in order, so that
// every module of want is available: built-in modules are left out and the
// dependencies of each module (from its .modinfo) come before it.
func (k *Kernel) Modules(want []string) ([]Module, error) {
	idx, err := k.index()
	if err != nil {
		return nil, err
	}
	deps := func(name string) ([]string, error) {
		p, ok := idx.files[name]
		if !ok {
			return nil, nil
		}
		return moduleDepends(filepath.Join(k.ModulesDir, p))
	}
	names, err := Order(want, idx.builtin, idx.has, deps)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", k.Version, err)
	}
	out := make([]Module, len(names))
	for i, n := range names {
		p := idx.files[n]
		if strings.HasSuffix(p, ".ko.xz") || strings.HasSuffix(p, ".ko.zst") || strings.HasSuffix(p, ".ko.gz") {
			return nil, fmt.Errorf("kernel %s: module %s is compressed (%s); only plain .ko is supported: %w",
				k.Version, n, p, errdefs.ErrNotImplemented)
		}
		out[i] = Module{Name: n, Path: filepath.Join(k.ModulesDir, p)}
	}
	return out, nil
}

type moduleIndex struct {
	files   map[string]string // name -> path relative to ModulesDir
	builtin map[string]bool
}

func (ix moduleIndex) has(name string) bool { _, ok := ix.files[name]; return ok }

// index reads modules.order and modules.builtin.
func (k *Kernel) index() (moduleIndex, error) {
	ix := moduleIndex{files: map[string]string{}, builtin: map[string]bool{}}
	order, err := os.ReadFile(filepath.Join(k.ModulesDir, "modules.order"))
	if err != nil {
		return ix, fmt.Errorf("kernel %s: %w", k.Version, err)
	}
	for _, p := range lines(order) {
		ix.files[ModuleName(p)] = p
	}
	if b, err := os.ReadFile(filepath.Join(k.ModulesDir, "modules.builtin")); err == nil {
		for _, p := range lines(b) {
			ix.builtin[ModuleName(p)] = true
		}
	} else if !os.IsNotExist(err) {
		return ix, fmt.Errorf("kernel %s: %w", k.Version, err)
	}
	return ix, nil
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ModuleName turns a module path (kernel/drivers/virtio/virtio-rng.ko.xz)
// into its name (virtio_rng): the kernel treats - and _ alike and reports _.
func ModuleName(p string) string {
	b := path.Base(p)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// moduleDepends reads the depends= entry of a module's .modinfo section.
func moduleDepends(file string) ([]string, error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", file, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: .modinfo: %w", file, err)
	}
	return parseDepends(data), nil
}

// parseDepends extracts the module names of the NUL-separated key=value
// list of a .modinfo section's depends= entry.
func parseDepends(modinfo []byte) []string {
	for _, kv := range bytes.Split(modinfo, []byte{0}) {
		v, ok := bytes.CutPrefix(kv, []byte("depends="))
		if !ok {
			continue
		}
		var out []string
		for _, d := range strings.Split(string(v), ",") {
			if d = strings.TrimSpace(d); d != "" {
				out = append(out, strings.ReplaceAll(d, "-", "_"))
			}
		}
		return out
	}
	return nil
}
