// Package qemu is the local compute provider: every container is one
// qemu-system-x86_64 process (machine type microvm) booting Debian's cloud
// kernel with the tether as PID 1. It implements compute.Provider.
//
// State lives under Config.Root, one directory per container (named by its
// 64-hex id) holding:
//
//	spec.json     the definition (compute.Spec), written atomically
//	status.json   the last known status, written atomically on every change
//	rw.ext4       the writable layer (sparse ext4, Spec.DiskSize or Config.DiskSize)
//	output.log    proto log records, appended by QEMU itself across runs
//	console.log   the guest's serial console of the last boot (debugging)
//	qemu.out      QEMU's own stdout/stderr of the last boot
//	config.img    the tether's config disk (exists while the VM runs)
//	ctl.sock      the control channel (virtio-serial, QEMU is the server)
//	qmp.sock      QEMU's QMP monitor
//	qemu.pid      QEMU's pidfile
//
// QEMU runs in its own session with the container directory as its working
// directory, detached from vchd: when vchd exits the VMs keep running, and
// New re-attaches to them (pidfile + /proc/<pid>/cwd check + pidfd) or
// marks the dead ones exited.
//
// Start is a list of named steps (DefaultHandlers: "image", "network",
// "config-disk", "launch", "await-tether"); each step that creates
// something pushes an undo, and a failed Start unwinds them so it leaves no
// process, socket, tap, lease or config disk behind. Tests swap steps by
// name with WithHandlers.
//
// Networking: with Config.Network set, the "network" step asks it for the
// VM's NICs and makes one non-persistent tap per NIC on the NIC's bridge;
// QEMU inherits the taps' fds (virtio-net-device), so they vanish with it.
// Config.Network.Detach is called once a run has ended, before the exit is
// visible to Wait, also for VMs found dead by New.
//
// Boot steps in Status.Boot: "launch" is the host clock just before QEMU is
// executed; "tether", "mounted", "process-started", "process-exited" are
// stamped with the host clock when the monitor reads the guest's event
// record (it polls the log every 10 ms), so every step shares one clock;
// records found as backlog after a vchd restart keep the guest's own
// timestamp (the tether sets its clock from the host's). "vm-exited" is the
// host clock when QEMU's exit was observed.
//
// Accelerator: Config.Accel "auto" uses KVM only if /dev/kvm exists and a
// 30-second probe boot of the kernel under KVM reaches its root-mount
// panic; the verdict is cached in Root/accel.json (delete it to probe
// again). Under TCG the translation cache is capped at Config.TBSizeMB
// (16 MB by default; docs/architecture.md has the figures for 8, 16, 32
// and 64), and for template clones at Config.TBSizeClonesMB. Guest RAM is
// QEMU's anonymous RAM unless Config.GuestMemory says memfd. With
// Config.Templates, eligible starts restore a saved template VM instead of
// booting (template.go, a prototype), on stub kernel and initrd files
// (stub.go).
//
// Callers' obligations: build the Provider once per Root with New; call
// Close when vchd shuts down (VMs keep running); never run two Providers on
// one Root at the same time.
package qemu
