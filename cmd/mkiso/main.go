// Command mkiso builds a vSphere VCH's ISO images (make bundle runs it):
//
//	mkiso bootstrap -o bootstrap.iso -tether bin/tether -kernel-dir DIR
//	mkiso appliance -o appliance.iso -vchd bin/vchd -vic-machine bin/vic-machine -kernel-dir DIR
//
// The bootstrap ISO is what container VMs boot from their CD-ROM: the
// guest kernel and the tether's initramfs (the same one QEMU VMs boot).
// The appliance ISO is the endpoint VM's: the kernel and an initramfs
// holding vchd and vic-machine. Both boot through ISOLINUX (Debian's
// isolinux and syslinux-common; -isolinux and -ldlinux name other copies).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

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
	vchd := fs.String("vchd", "bin/vchd", "vchd (appliance)")
	vicMachine := fs.String("vic-machine", "bin/vic-machine", "vic-machine (appliance)")
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
		var buf bytes.Buffer
		c := isoimage.NewCpio(&buf)
		for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "var", "var/lib", "var/lib/vch"} {
			c.Dir(d)
		}
		for _, b := range []struct{ name, src string }{{"bin/vchd", *vchd}, {"bin/vic-machine", *vicMachine}} {
			data, err := os.ReadFile(b.src)
			if err != nil {
				return err
			}
			c.File(b.name, 0o755, data)
		}
		// vchd reads its config from guestinfo (--vice-env); the boot
		// steps before it (disk, network) are not written yet.
		c.Symlink("init", "/bin/vchd")
		if err := c.Close(); err != nil {
			return err
		}
		spec.Initrd = filepath.Join(tmp, "appliance.cpio")
		if err := os.WriteFile(spec.Initrd, buf.Bytes(), 0o644); err != nil {
			return err
		}
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
