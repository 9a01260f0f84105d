// Package isoimage writes the bootable ISO 9660 images of a vSphere VCH:
// the bootstrap ISO the container VMs boot (kernel + the tether's
// initramfs) and the appliance ISO of the endpoint VM. Both boot BIOS
// machines through ISOLINUX (Debian's isolinux and syslinux-common
// packages): an El Torito no-emulation entry for isolinux/isolinux.bin with
// a boot info table, as `xorriso -as mkisofs -b isolinux/isolinux.bin
// -no-emul-boot -boot-load-size 4 -boot-info-table` would make.
package isoimage

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// Default locations of ISOLINUX's files on Debian.
const (
	DefaultIsolinuxBin = "/usr/lib/ISOLINUX/isolinux.bin"
	DefaultLdlinux     = "/usr/lib/syslinux/modules/bios/ldlinux.c32"
)

// Spec is one image.
type Spec struct {
	Label       string // volume identifier
	Kernel      string // host path of the kernel (vmlinuz)
	Initrd      string // host path of the initramfs
	Cmdline     string // kernel command line
	IsolinuxBin string
	Ldlinux     string
	// Files are more files: ISO path -> host path.
	Files map[string]string
}

// Contents are the image's files, ISO path -> host path or content.
func (s Spec) contents() map[string]func() (io.ReadCloser, int64, error) {
	fromFile := func(p string) func() (io.ReadCloser, int64, error) {
		return func() (io.ReadCloser, int64, error) {
			f, err := os.Open(p)
			if err != nil {
				return nil, 0, err
			}
			st, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, 0, err
			}
			return f, st.Size(), nil
		}
	}
	// SERIAL: ISOLINUX also talks on the first serial port, where the
	// kernel's console is.
	cfg := fmt.Sprintf("SERIAL 0 115200\nDEFAULT vch\nPROMPT 0\nTIMEOUT 0\nLABEL vch\n  KERNEL /vmlinuz\n  INITRD /initrd.img\n  APPEND %s\n", s.Cmdline)
	out := map[string]func() (io.ReadCloser, int64, error){
		"/isolinux/isolinux.bin": fromFile(s.IsolinuxBin),
		"/isolinux/ldlinux.c32":  fromFile(s.Ldlinux),
		"/isolinux/isolinux.cfg": func() (io.ReadCloser, int64, error) {
			return io.NopCloser(strings.NewReader(cfg)), int64(len(cfg)), nil
		},
		"/vmlinuz":    fromFile(s.Kernel),
		"/initrd.img": fromFile(s.Initrd),
	}
	for iso, host := range s.Files {
		out[iso] = fromFile(host)
	}
	return out
}

// Write builds the image at out (replacing it).
func Write(out string, s Spec) error {
	if s.IsolinuxBin == "" {
		s.IsolinuxBin = DefaultIsolinuxBin
	}
	if s.Ldlinux == "" {
		s.Ldlinux = DefaultLdlinux
	}
	if s.Label == "" {
		s.Label = "VCH"
	}
	files := s.contents()
	var size int64 = 4 << 20 // descriptors, directories, catalog
	var names []string
	for name, open := range files {
		r, n, err := open()
		if err != nil {
			return fmt.Errorf("iso %s: %s: %w", out, name, err)
		}
		r.Close()
		size += (n + 2047) / 2048 * 2048
		names = append(names, name)
	}
	sort.Strings(names)
	_ = os.Remove(out)
	d, err := diskfs.Create(out, size, diskfs.SectorSizeDefault)
	if err != nil {
		return fmt.Errorf("iso %s: %w", out, err)
	}
	defer d.Close()
	d.LogicalBlocksize = 2048 // ISO 9660's sector
	work, err := os.MkdirTemp("", "isoimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 0, FSType: filesystem.TypeISO9660, VolumeLabel: s.Label, WorkDir: work})
	if err != nil {
		return fmt.Errorf("iso %s: %w", out, err)
	}
	for _, name := range names {
		if err := fs.Mkdir(path.Dir(name)); err != nil {
			return fmt.Errorf("iso %s: mkdir %s: %w", out, path.Dir(name), err)
		}
		if err := copyIn(fs, name, files[name]); err != nil {
			return fmt.Errorf("iso %s: %s: %w", out, name, err)
		}
	}
	iso, ok := fs.(*iso9660.FileSystem)
	if !ok {
		return fmt.Errorf("iso %s: not an ISO 9660 file system", out)
	}
	entry := &iso9660.ElToritoEntry{
		Platform: iso9660.BIOS, Emulation: iso9660.NoEmulation,
		BootFile: "/isolinux/isolinux.bin", BootTable: true,
	}
	entry.SetLoadSize(4)
	return iso.Finalize(iso9660.FinalizeOptions{
		RockRidge:        true,
		VolumeIdentifier: s.Label,
		ElTorito:         &iso9660.ElTorito{BootCatalog: "/isolinux/boot.cat", Entries: []*iso9660.ElToritoEntry{entry}},
	})
}

func copyIn(fs filesystem.FileSystem, name string, open func() (io.ReadCloser, int64, error)) error {
	r, _, err := open()
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := fs.OpenFile(name, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, r)
	return err
}

// Cpio is a minimal newc archive writer for the appliance's initramfs.
type Cpio struct {
	w   io.Writer
	ino uint32
	err error
}

// NewCpio writes an archive to w.
func NewCpio(w io.Writer) *Cpio { return &Cpio{w: w, ino: 1} }

func (c *Cpio) entry(name string, mode uint32, data []byte) { c.node(name, mode, 0, 0, data) }

func (c *Cpio) node(name string, mode, rdevMajor, rdevMinor uint32, data []byte) {
	if c.err != nil {
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	b.WriteString(name)
	b.WriteByte(0)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(data)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	c.ino++
	_, c.err = c.w.Write(b.Bytes())
}

// Dir adds a directory.
func (c *Cpio) Dir(name string) { c.entry(name, 0o040755, nil) }

// File adds a regular file with mode perm.
func (c *Cpio) File(name string, perm uint32, data []byte) { c.entry(name, 0o100000|perm, data) }

// CharDev adds a character device node (dev/console: the kernel opens it
// for /init's standard input and output before /dev is mounted).
func (c *Cpio) CharDev(name string, perm, major, minor uint32) {
	c.node(name, 0o020000|perm, major, minor, nil)
}

// Symlink adds a symbolic link.
func (c *Cpio) Symlink(name, target string) { c.entry(name, 0o120777, []byte(target)) }

// Close writes the trailer.
func (c *Cpio) Close() error {
	c.entry("TRAILER!!!", 0, nil)
	return c.err
}
