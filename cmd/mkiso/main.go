// Command mkiso builds a vSphere VCH's ISO images (make bundle runs it):
//
//	mkiso bootstrap -o bootstrap.iso -tether bin/tether -kernel-dir DIR
//	mkiso appliance -o appliance.iso -init bin/vch-appliance -vchd bin/appliance/vchd \
//		-vic-machine bin/appliance/vic-machine -kernel-dir DIR
//
// The bootstrap ISO is what container VMs boot from their CD-ROM: the
// guest kernel and the tether's initramfs (the same one QEMU VMs boot).
// The appliance ISO is the endpoint VM's: the kernel and an initramfs
// whose /init is vch-appliance (cmd/vch-appliance), with vchd and
// vic-machine in /bin and the endpoint's drivers in /lib/modules (in
// modules.order). Its binaries run without a C library: they must be
// statically linked (CGO_ENABLED=0; make build puts such copies in
// bin/appliance/). Both boot through ISOLINUX (Debian's isolinux and
// syslinux-common; -isolinux and -ldlinux name other copies).
package main

import (
	"bytes"
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vchproject/vch/internal/isoimage"
	"github.com/vchproject/vch/portlayer/qemu/initramfs"
	"github.com/vchproject/vch/portlayer/qemu/kernel"
	"github.com/vchproject/vch/tether/proto"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkiso:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "bootstrap" && args[0] != "appliance") {
		return fmt.Errorf("usage: mkiso bootstrap|appliance -o OUT.iso [flags]")
	}
	kind := args[0]
	fs := flag.NewFlagSet("mkiso "+kind, flag.ContinueOnError)
	out := fs.String("o", "", "the ISO to write")
	kernelDir := fs.String("kernel-dir", "/var/cache/vch/kernel", "the guest kernel tree (scripts/fetch-kernel.sh)")
	tether := fs.String("tether", "bin/tether", "the tether binary (bootstrap)")
	initBin := fs.String("init", "bin/vch-appliance", "the appliance's /init (appliance)")
	vchd := fs.String("vchd", "bin/appliance/vchd", "vchd, statically linked (appliance)")
	vicMachine := fs.String("vic-machine", "bin/appliance/vic-machine", "vic-machine, statically linked (appliance)")
	isolinux := fs.String("isolinux", isoimage.DefaultIsolinuxBin, "ISOLINUX's isolinux.bin")
	ldlinux := fs.String("ldlinux", isoimage.DefaultLdlinux, "ISOLINUX's ldlinux.c32")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-o is required")
	}
	k, err := kernel.Find(*kernelDir)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "mkiso-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	spec := isoimage.Spec{Kernel: k.Vmlinuz, IsolinuxBin: *isolinux, Ldlinux: *ldlinux}
	switch kind {
	case "bootstrap":
		// The tether's initramfs, as QEMU container VMs boot it, with
		// the vSphere VM's drivers; the flag tells the tether it boots
		// as a vSphere container VM.
		initrd, err := initramfs.EnsureVSphere(tmp, *tether, *kernelDir)
		if err != nil {
			return err
		}
		spec.Label, spec.Initrd = "VCH_BOOTSTRAP", initrd
		spec.Cmdline = "console=ttyS0 panic=-1 quiet " + proto.VSphereFlag
	case "appliance":
		initrd, err := applianceInitramfs(tmp, k, *initBin, *vchd, *vicMachine)
		if err != nil {
			return err
		}
		spec.Initrd = initrd
		spec.Label = "VCH_APPLIANCE"
		spec.Cmdline = "console=ttyS0 panic=-1 quiet"
	}
	tmpOut := *out + ".tmp"
	if err := isoimage.Write(tmpOut, spec); err != nil {
		os.Remove(tmpOut)
		return err
	}
	return os.Rename(tmpOut, *out)
}

// applianceModules are the endpoint VM's drivers, loaded in this order by
// its /init: the vSphere devices (PVSCSI and SCSI disks, vmxnet3, fw_cfg),
// the ACPI power button with the event device it reports through, and
// what the bridge leg's masquerade needs besides nf_tables (the nat chain
// type, the masq expression, NAT and conntrack; k.Modules adds their
// dependencies).
var applianceModules = append(append([]string(nil), kernel.VSphereModules...), "evdev", "button",
	"nf_conntrack", "nf_nat", "nft_chain_nat", "nft_masq")

// applianceInitramfs writes the appliance's initramfs into dir.
func applianceInitramfs(dir string, k *kernel.Kernel, initBin, vchd, vicMachine string) (string, error) {
	mods, err := k.Modules(applianceModules)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	c := isoimage.NewCpio(&buf)
	made := map[string]bool{}
	for _, d := range []string{"bin", "dev", "etc", "lib", "lib/modules", "proc", "run", "sys", "tmp", "var", "var/lib", "var/lib/vch"} {
		c.Dir(d)
		made[d] = true
	}
	c.CharDev("dev/console", 0o600, 5, 1)
	for _, b := range []struct{ name, src string }{{"init", initBin}, {"bin/vchd", vchd}, {"bin/vic-machine", vicMachine}} {
		if err := static(b.src); err != nil {
			return "", err
		}
		data, err := os.ReadFile(b.src)
		if err != nil {
			return "", err
		}
		c.File(b.name, 0o755, data)
	}
	// mkfs.ext4 for the image store, which builds each image's root
	// file system disk on the appliance: the host's mke2fs and its
	// libraries (the one program the appliance runs that is not ours).
	mkfs, err := initramfs.MkfsFiles()
	if err != nil {
		return "", err
	}
	dirs := map[string]bool{}
	for _, f := range mkfs {
		for d := filepath.Dir(f.Name); d != "." && !made[d] && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range sortedDirs(dirs) {
		c.Dir(d)
	}
	for _, f := range mkfs {
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return "", err
		}
		c.File(f.Name, f.Perm, data)
	}
	c.Symlink("bin/mkfs.ext4", proto.VSphereMkfs)
	var order strings.Builder
	for _, m := range mods {
		data, err := os.ReadFile(m.Path)
		if err != nil {
			return "", err
		}
		c.File("lib/modules/"+m.FileName(), 0o644, data)
		order.WriteString(m.FileName() + "\n")
	}
	c.File("lib/modules/modules.order", 0o644, []byte(order.String()))
	if err := c.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "appliance.cpio")
	return path, os.WriteFile(path, buf.Bytes(), 0o644)
}

// sortedDirs lists dirs parents first.
func sortedDirs(dirs map[string]bool) []string {
	out := make([]string, 0, len(dirs))
	for d := range dirs {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// static refuses a dynamically linked executable: the initramfs has no
// C library.
func static(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: the appliance has no C library; build it with CGO_ENABLED=0 (make build writes bin/appliance/)", path)
		}
	}
	return nil
}
