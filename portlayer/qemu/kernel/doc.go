// Package kernel locates a guest kernel unpacked by scripts/fetch-kernel.sh
// and chooses the modules a container VM needs.
//
// A kernel directory holds vmlinuz (the bzImage), modules (the
// lib/modules/<version> tree of the same package) and optionally version.
// Callers:
//
//  1. Find(dir) to get the Kernel (paths and release string);
//  2. k.Modules(kernel.DefaultModules) to get the .ko files to pack into the
//     initramfs, dependencies first, built-in modules left out;
//  3. give k.Vmlinuz to QEMU's -kernel.
//
// The package only reads files; it never runs modprobe or depmod (the host
// has no kmod). Dependencies come from each module's own .modinfo section.
package kernel
