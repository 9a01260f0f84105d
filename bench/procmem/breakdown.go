package procmem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Breakdown is the PSS of processes split by what the pages are.
type Breakdown struct {
	// AnonKiB: anonymous memory (heap, guest RAM without a file, TCG's
	// translation cache) and the private copies a process made of pages
	// of a file it maps copy-on-write (a template clone's written RAM).
	AnonKiB int64
	// TemplateKiB: the share of a template's RAM file pages that a clone
	// maps and has not copied (PSS divides them among the clones).
	TemplateKiB int64
	// BinaryKiB: executables and shared libraries (QEMU, the shim, libc).
	BinaryKiB int64
	// OtherKiB: other files and shared memory (a memfd guest RAM, locale
	// and firmware files).
	OtherKiB int64
}

// Add sums two breakdowns.
func (b Breakdown) Add(o Breakdown) Breakdown {
	return Breakdown{AnonKiB: b.AnonKiB + o.AnonKiB, TemplateKiB: b.TemplateKiB + o.TemplateKiB,
		BinaryKiB: b.BinaryKiB + o.BinaryKiB, OtherKiB: b.OtherKiB + o.OtherKiB}
}

// TotalKiB is the whole PSS.
func (b Breakdown) TotalKiB() int64 { return b.AnonKiB + b.TemplateKiB + b.BinaryKiB + b.OtherKiB }

// BreakdownOf splits the PSS of pids by mapping. isTemplate says whether a
// mapped file is a template's RAM file. A pid that no longer exists is
// skipped.
func BreakdownOf(pids []int, isTemplate func(path string) bool) (Breakdown, error) {
	var sum Breakdown
	for _, pid := range pids {
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps"))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			continue
		}
		if err != nil {
			return sum, fmt.Errorf("procmem: %w", err)
		}
		exe, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
		sum = sum.Add(breakdown(parseSmaps(data), strings.TrimSuffix(exe, " (deleted)"), isTemplate))
	}
	return sum, nil
}

// breakdown classifies the mappings of one process whose executable is exe.
func breakdown(maps []Mapping, exe string, isTemplate func(string) bool) Breakdown {
	var b Breakdown
	for _, m := range maps {
		anon := min(m.AnonKiB, m.PssKiB)
		b.AnonKiB += anon
		rest := m.PssKiB - anon
		name := strings.TrimSuffix(m.Name, " (deleted)")
		switch {
		case name == "" || strings.HasPrefix(name, "["):
			// [heap], [stack], [anon:…], [vdso]: no file behind them
			b.AnonKiB += rest
		case isTemplate != nil && isTemplate(name):
			b.TemplateKiB += rest
		case name == exe || isSharedLib(name):
			b.BinaryKiB += rest
		default:
			b.OtherKiB += rest
		}
	}
	return b
}

// isSharedLib matches /usr/lib/x86_64-linux-gnu/libc.so.6, ld-linux-x86-64.so.2 and the like.
func isSharedLib(path string) bool {
	base := filepath.Base(path)
	return strings.HasSuffix(base, ".so") || strings.Contains(base, ".so.")
}

// Resident returns how much of a file sits in memory (page cache, or
// shmem for a file on tmpfs), whether or not a process maps it.
func Resident(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("procmem: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("procmem: %w", err)
	}
	if fi.Size() == 0 {
		return 0, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("procmem: mmap %s: %w", path, err)
	}
	defer func() { _ = unix.Munmap(m) }()
	page := int64(os.Getpagesize())
	vec := make([]byte, (fi.Size()+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, fmt.Errorf("procmem: mincore %s: %w", path, errno)
	}
	var n int64
	for _, v := range vec {
		if v&1 != 0 {
			n++
		}
	}
	return n * page, nil
}
