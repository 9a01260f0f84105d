// Package tether is PID 1 of every container VM. Run does, in order:
//
//  1. mount devtmpfs, proc, sysfs and devpts; load the kernel modules listed
//     in the initramfs's /lib/modules/modules.order (finit_module);
//  2. open the PortLog port and emit EventTether;
//  3. find the disks by serial, read the Config from DiskConfig, load
//     Config.Modules, set the clock (Config.LaunchTime + time since boot),
//     hostname and domain name; bring lo up and configure each NIC of
//     Config.Interfaces (found by MAC: address, MTU, default route) with
//     netlink;
//  4. start the control channel server on PortControl (package control);
//  5. mount DiskImage read-only and DiskRW, an overlayfs of them as the
//     container root with proc, sysfs, dev, devpts and /dev/shm inside, and
//     write /etc/hostname, /etc/hosts, /etc/resolv.conf; emit EventMounted;
//  6. start Config.Process chrooted in the container root; emit
//     EventStarted; forward its output as log records;
//  7. when it exits: kill what is left, drain the output, emit EventExited,
//     sync, unmount, emit EventPowerOff and reboot (QEMU runs with
//     -no-reboot, so the VM ends).
//
// While the main process runs, the control server starts exec sessions
// (exec.go: same user, environment and chroot rules as the main process,
// children of PID 1 reaped by the one reaper, killed with everything else
// when the main process ends) and answers docker top from /proc (top.go,
// package ps).
//
// Archive sessions (archive.go, package archive) serve docker cp, diff and
// sizes in the container root. With Config.Maintenance the tether stops
// after step 5 (without /proc, /dev or the /etc files), serves only them
// and powers off on ReqPowerOff.
//
// Any failure before the process runs emits EventError and powers off the
// same way. Run never returns: PID 1 must not exit.
//
// On vSphere (a guestinfo.vch.id key in the guestinfo source, package
// guestinfo) Run takes the other transport instead (vsphere.go): config
// from guestinfo, the log and control ports as TCP connections to the
// VCH's serial concentrator (proto/serial.go), the process run in the
// backing container's own root as that container's PID 1.
//
// The pieces without I/O live in subpackages: userdb (user resolution),
// execspec (environment, paths inside the root, exit codes), etcfiles
// (/etc rendering), ps (docker top's table) and control's Handshake.
package tether
