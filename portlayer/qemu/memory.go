package qemu

import (
	"fmt"
	"strconv"

	"github.com/vchproject/vch/errdefs"
)

// Guest memory backings for Config.GuestMemory.
const (
	// GuestMemoryAnon is QEMU's default: anonymous RAM that QEMU madvises
	// for transparent huge pages, so every 2 MiB region the guest touches
	// at all becomes resident whole (on hosts with THP "madvise" or
	// "always").
	GuestMemoryAnon = "anon"
	// GuestMemoryMemfd is a private (share=off) memfd mapping: guest
	// writes land in 4 KiB anonymous copy-on-write pages (no THP
	// inflation), which KSM can still merge.
	GuestMemoryMemfd = "memfd"
)

// DefaultGuestMemory is the backing used when Config.GuestMemory is empty.
const DefaultGuestMemory = GuestMemoryAnon

// memoryID is the QEMU object id of the guest RAM backend.
const memoryID = "mem"

func validGuestMemory(s string) error {
	switch s {
	case GuestMemoryAnon, GuestMemoryMemfd:
		return nil
	}
	return fmt.Errorf("qemu provider: guest memory %q (want %s or %s): %w",
		s, GuestMemoryAnon, GuestMemoryMemfd, errdefs.ErrInvalidParameter)
}

// machineArg is the -M value for the backing.
func machineArg(s launchSpec) string {
	m := "microvm"
	if s.GuestMemory == GuestMemoryMemfd || s.Template.RAMFile != "" || len(s.Shares) > 0 {
		m += ",memory-backend=" + memoryID
	}
	if s.ShareSlots > 0 {
		m += ",pcie=on"
	}
	return m
}

// memoryArgs are the -object arguments of the backing (none for anon).
func memoryArgs(s launchSpec) []string {
	size := ",size=" + strconv.FormatInt(s.MemoryMB, 10) + "M"
	switch {
	case s.Template.RAMFile != "":
		share := "off"
		if s.Template.RAMShared {
			share = "on"
		}
		return []string{"-object", "memory-backend-file,id=" + memoryID + size +
			",mem-path=" + qemuEscape(s.Template.RAMFile) + ",share=" + share}
	case len(s.Shares) > 0:
		// virtiofsd maps guest RAM to serve the virtqueues.
		return []string{"-object", "memory-backend-memfd,id=" + memoryID + size + ",share=on"}
	case s.GuestMemory == GuestMemoryMemfd:
		return []string{"-object", "memory-backend-memfd,id=" + memoryID + size + ",share=off"}
	}
	return nil
}
