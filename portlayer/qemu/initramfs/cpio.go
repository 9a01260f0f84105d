package initramfs

import (
	"fmt"
	"io"
)

// newcWriter writes a cpio archive in the "new ASCII" (newc, magic 070701)
// format that the kernel unpacks into rootfs. Every header is 110 bytes of
// ASCII hex fields; the name (with its NUL) and the data are each padded to
// a multiple of 4 bytes. The first error sticks.
type newcWriter struct {
	w   io.Writer
	off int64
	ino uint32
	err error
}

// File-type bits of a cpio mode.
const (
	modeDir     = 0o040000
	modeRegular = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
)

type newcHeader struct {
	name         string
	mode         uint32 // type bits | permissions
	size         int64
	rdevMajor    uint32
	rdevMinor    uint32
	nlink        uint32
	uid, gid     uint32
	mtime        uint32
	skipInodeNum bool // trailer: inode 0
}

func (c *newcWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.off += int64(n)
	c.err = err
}

func (c *newcWriter) pad() {
	if r := c.off % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *newcWriter) header(h newcHeader) {
	ino := uint32(0)
	if !h.skipInodeNum {
		c.ino++
		ino = c.ino
	}
	nlink := h.nlink
	if nlink == 0 {
		nlink = 1
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, h.mode, h.uid, h.gid, nlink, h.mtime, uint32(h.size),
		0, 0, h.rdevMajor, h.rdevMinor, len(h.name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(h.name))
	c.write([]byte{0})
	c.pad()
}

// Dir adds a directory.
func (c *newcWriter) Dir(name string, perm uint32) {
	c.header(newcHeader{name: name, mode: modeDir | perm, nlink: 2})
}

// CharDev adds a character device node.
func (c *newcWriter) CharDev(name string, perm, major, minor uint32) {
	c.header(newcHeader{name: name, mode: modeChar | perm, rdevMajor: major, rdevMinor: minor})
}

// Symlink adds a symbolic link to target.
func (c *newcWriter) Symlink(name, target string) {
	c.header(newcHeader{name: name, mode: modeSymlink | 0o777, size: int64(len(target))})
	c.write([]byte(target))
	c.pad()
}

// File adds a regular file of size bytes read from r.
func (c *newcWriter) File(name string, perm uint32, size int64, r io.Reader) {
	if c.err == nil && size > 0xFFFFFFFF {
		c.err = fmt.Errorf("cpio: %s: %d bytes is too large for newc", name, size)
	}
	c.header(newcHeader{name: name, mode: modeRegular | perm, size: size})
	if c.err != nil {
		return
	}
	n, err := io.CopyN(c.w, r, size)
	c.off += n
	if err != nil {
		c.err = fmt.Errorf("cpio: %s: %w", name, err)
		return
	}
	c.pad()
}

// Close writes the trailer entry. It does not close the underlying writer.
func (c *newcWriter) Close() error {
	c.header(newcHeader{name: "TRAILER!!!", skipInodeNum: true})
	return c.err
}
