package initramfs

import (
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/vchproject/vch/portlayer/qemu/kernel"
)

// Paths inside the initramfs (see the package comment).
const (
	InitPath    = "init"
	ModulesDir  = "lib/modules"
	ModuleOrder = "lib/modules/modules.order"
)

// mountPoints are the empty directories the tether mounts on.
var mountPoints = []string{
	"dev", "proc", "sys", "run", "tmp", "lib", "lib/modules",
	"mnt", "mnt/image", "mnt/rw", "mnt/root", "mnt/empty",
}

// File is a host file packed at Name (a path in the archive, no leading
// slash).
type File struct {
	Name, Src string
	Perm      uint32
}

// Build writes an uncompressed newc archive: tetherPath as /init, the
// modules under /lib/modules and modules.order listing them in the given
// order, the extra modules under /lib/modules too but not in the order
// (the tether loads them when a VM needs them), and files (with their
// parent directories).
func Build(w io.Writer, tetherPath string, modules, extra []kernel.Module, files ...File) error {
	c := &newcWriter{w: w}
	made := map[string]bool{}
	for _, d := range mountPoints {
		c.Dir(d, 0o755)
		made[d] = true
	}
	for _, f := range files {
		var parents []string
		for d := path.Dir(f.Name); d != "." && d != "/" && !made[d]; d = path.Dir(d) {
			parents = append(parents, d)
			made[d] = true
		}
		for i := len(parents) - 1; i >= 0; i-- {
			c.Dir(parents[i], 0o755)
		}
	}
	c.CharDev("dev/console", 0o600, 5, 1)
	c.CharDev("dev/null", 0o666, 1, 3)
	if err := addFile(c, InitPath, 0o755, tetherPath); err != nil {
		return err
	}
	var order strings.Builder
	for _, m := range modules {
		if err := addFile(c, ModulesDir+"/"+m.FileName(), 0o644, m.Path); err != nil {
			return err
		}
		order.WriteString(m.FileName() + "\n")
	}
	for _, m := range extra {
		if err := addFile(c, ModulesDir+"/"+m.FileName(), 0o644, m.Path); err != nil {
			return err
		}
	}
	c.File(ModuleOrder, 0o644, int64(order.Len()), strings.NewReader(order.String()))
	for _, f := range files {
		if err := addFile(c, f.Name, f.Perm, f.Src); err != nil {
			return err
		}
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("write initramfs: %w", err)
	}
	return nil
}

func addFile(c *newcWriter, name string, perm uint32, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("initramfs %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("initramfs %s: %w", name, err)
	}
	c.File(name, perm, st.Size(), f)
	return c.err
}
