// Package sysinfo records the machine a benchmark ran on: CPU model and
// count, memory, kernel, and the versions of QEMU and of Docker Engine's
// parts (dockerd, containerd, runc) as their binaries report them.
//
// Each probe is best effort: a missing binary leaves its field empty (the
// report prints n/a) rather than failing the run. The accelerator of vch's
// container VMs is not probed here: it is read off a running VM's QEMU
// command line (Accel), because only that tells what vch actually used.
package sysinfo
