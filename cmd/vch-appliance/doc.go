// Command vch-appliance is PID 1 of a vSphere VCH's endpoint VM: the /init
// of the appliance ISO's initramfs (cmd/mkiso appliance). It brings the VM
// up and then serves the VCH with vchd:
//
//  1. mounts /proc, /sys, /dev (devtmpfs), /dev/pts, /run and /tmp;
//  2. loads the drivers in /lib/modules/modules.order (vmxnet3, PVSCSI and
//     SCSI disks, fw_cfg, the ACPI power button and evdev, nf_tables with
//     conntrack and the NAT modules);
//  3. mounts the data disk on vchd's root, /var/lib/vch (datadisk.go):
//     the disk at unit 0 (vice.DataDiskUnit) of the PVSCSI controller,
//     which vic-machine create (or upgrade) gives the endpoint VM, found
//     by its SCSI address (internal/scsidisk), formatted ext4 (label
//     vch-data) only when blank, never when it holds anything else;
//     without a usable one it logs an error and vchd's root stays on the
//     initramfs's tmpfs;
//  4. reads the VCH's config, the guestinfo.vice keys vic-machine create
//     --target wrote into the VM's extraConfig, through the VMware backdoor
//     (on ESXi) or a QEMU fw_cfg item (tether/guestinfo.ForVM), walking the
//     schema with vice.Read since the backdoor cannot list keys;
//  5. waits for the kernel's RNG to be seeded (a blocking getrandom; the
//     DHCP client's non-blocking reads fail on an unseeded one), then
//     configures the public, client and management NICs, found by the
//     fixed MACs create gave them: a static address, gateway and routes,
//     or DHCP; the hostname (the VCH's name), /etc/resolv.conf, /etc/hosts;
//     then the bridge leg (bridge.go): the NIC with the bridge MAC gets the
//     bridge network's gateway, with IPv4 forwarding and a masquerade of
//     the bridge range (nftables table ip vch-nat) for the containers;
//  6. writes the Docker API's TLS files and the appliance's settings
//     (machine/vchconfig.Appliance: root /var/lib/vch, the API on :2376
//     (:2375 with --no-tls), the serial
//     concentrator on :2377, dialled by container VMs at the public
//     address);
//  7. runs vchd --vice-env with the guestinfo.vice keys in its environment
//     (vice.ToEnv), restarts it when it exits, reaps orphans, and on
//     SIGTERM or the ACPI power button stops vchd, unmounts the data
//     disk and powers the VM off.
//
// It logs to the console (ttyS0 on the kernel command line), as vchd does.
// The appliance keeps no state of its own. vchd's root (the image index,
// tags, container logs, the engine ID) is on the data disk, which outlives
// the VM's power cycles (configure, upgrade, an HA restart) and is
// unmounted at power-off; on an endpoint VM without one it is lost at
// power-off. The containers' state is on vSphere (their VMs' extraConfig,
// datastores).
package main
