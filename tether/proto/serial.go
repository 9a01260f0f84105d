package proto

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The vSphere transport. A container VM on vSphere gets its Config from
// guestinfo keys of its extraConfig instead of DiskConfig, and reaches
// the host through network serial ports (ESXi's telnet://VCH:PORT) that
// connect to the VCH's serial concentrator instead of virtio-serial
// ports. Each serial connection starts with one SerialHello line from
// the tether naming the container, the port (PortLog or PortControl) and
// the VM's token; after it the connection carries exactly what the
// virtio-serial port of that name carries under QEMU.
//
// Keys and values keep to [A-Za-z0-9._:=-]: govmomi's simulator passes
// guestinfo unquoted through a shell into docker create.
const (
	// GuestinfoID holds the container ID.
	GuestinfoID = "guestinfo.vch.id"
	// GuestinfoConfig holds base64url(JSON Config), without padding.
	GuestinfoConfig = "guestinfo.vch.config"
	// GuestinfoSerial holds host:port of the VCH's serial concentrator.
	GuestinfoSerial = "guestinfo.vch.serial"
	// GuestinfoToken holds the VM's secret the concentrator checks in
	// the hello line (hex).
	GuestinfoToken = "guestinfo.vch.token"
)

const serialMagic = "vch-serial"

var (
	helloID    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	helloToken = regexp.MustCompile(`^[0-9a-f]{16,128}$`)
)

// SerialHello is the first line on a serial connection.
func SerialHello(id, port, token string) string {
	return fmt.Sprintf("%s %s %s %s\n", serialMagic, id, port, token)
}

// ParseSerialHello parses a SerialHello line (with or without its
// newline).
func ParseSerialHello(line string) (id, port, token string, err error) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != serialMagic {
		// The line may hold a token: it stays out of the error, which is logged.
		return "", "", "", fmt.Errorf("serial hello: want %q ID PORT TOKEN (%d fields)", serialMagic, len(f))
	}
	if !helloID.MatchString(f[1]) || (f[2] != PortLog && f[2] != PortControl) || !helloToken.MatchString(f[3]) {
		return "", "", "", fmt.Errorf("serial hello: bad id, port or token")
	}
	return f[1], f[2], f[3], nil
}

// The concentrator answers a PortLog hello with one boot line telling
// the tether what this boot is for: BootRun (run the container's
// process) or BootMaintenance (serve archive sessions only, as
// Config.Maintenance under QEMU, where the config disk says it; on
// vSphere guestinfo is fixed for the VM's life, so the VCH says it per
// boot). The tether reads it before it runs anything.
const (
	BootRun         = "vch-boot run"
	BootMaintenance = "vch-boot maintenance"
)

// On a VM's network serial port (ESXi: a serial port backed by
// tcp://VCH:PORT, direction client) the connection is made by the
// hypervisor at power on, and again when it breaks (vchd restarting),
// whatever the guest is doing. So on every connection the concentrator
// speaks first: until a hello line arrives it writes SerialProbe lines,
// one every SerialProbeEvery, and ignores every line that is not a hello.
// A tether on a serial device answers each probe with its hello (on the
// log port: between records), then reads the boot line. A tether that
// dials the concentrator itself (the simulator's docker-backed VMs)
// writes its hello at once and never waits for a probe; a probe that
// crosses its hello is skipped where it reads the boot line.
const (
	SerialProbe      = "vch-serial?"
	SerialProbeEvery = time.Second
)

// VSphereFlag, on the kernel command line (the bootstrap ISO's), tells
// the tether it boots as a vSphere container VM: config from guestinfo,
// the root and volumes on SCSI disks (GuestinfoDisks), the log and
// control ports on serial ttys.
const VSphereFlag = "vch.vsphere"

// The serial ports of a vSphere container VM, in device order, as the
// guest names them: serial0 is the console (file-backed, on the VM's
// datastore folder), serial1 and serial2 are network serial ports to the
// concentrator carrying PortLog and PortControl.
const (
	TTYConsole = "ttyS0"
	TTYLog     = "ttyS1"
	TTYControl = "ttyS2"
)

// GuestinfoDisks holds base64url(JSON map[string]int), without padding:
// the SCSI unit number (target) on the VM's first SCSI controller of the
// container's root disk (key DiskRootKey, its writable layer) and of each
// volume's disk (key: the volume name). A VM booting the bootstrap ISO
// finds its disks by it.
const (
	GuestinfoDisks = "guestinfo.vch.disks"
	DiskRootKey    = "/"
)
