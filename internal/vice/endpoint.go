package vice

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Ports of the endpoint VM: the Docker API (with TLS, and with TLS off, as
// VIC had them) and the serial concentrator that container VMs' serial
// ports dial (VIC's vSPC port).
const (
	APIPort      = 2376
	APIPortNoTLS = 2375
	SerialPort   = 2377
)

// The endpoint VM's data disk: vchd's state (its root, /var/lib/vch: the
// image index, tags, container logs, engine ID) on a thin VMDK in the
// endpoint VM's folder, so that it outlives the endpoint's power cycles
// (configure, upgrade, an HA restart). vic-machine create (and upgrade,
// for a VCH made before) puts it on the endpoint's PVSCSI controller at
// DataDiskUnit; vchd's layer writer never attaches a layer disk there;
// the appliance finds it at that SCSI target, formats it when it is
// blank and mounts it on vchd's root.
const (
	DataDiskUnit int32 = 0
	// DataDiskKB is its size, 8 GiB.
	DataDiskKB int64 = 8 << 20
	// DataDiskLabel is its ext4 file system's label.
	DataDiskLabel = "vch-data"
)

// ParseGateway reads an EndpointNetwork's Gateway: IP (a default route),
// or DEST[,DEST…]:IP (routes to the CIDRs DEST through IP).
func ParseGateway(s string) (dests []netip.Prefix, gw netip.Addr, err error) {
	d, g, routed := strings.Cut(s, ":")
	if !routed {
		g, d = s, ""
	}
	if gw, err = netip.ParseAddr(g); err != nil || !gw.Is4() {
		return nil, netip.Addr{}, errors.New("use GATEWAY or DEST[,DEST…]:GATEWAY (IPv4, destinations as CIDRs)")
	}
	if routed {
		for _, x := range strings.Split(d, ",") {
			p, err := netip.ParsePrefix(x)
			if err != nil || !p.Addr().Is4() {
				return nil, netip.Addr{}, fmt.Errorf("destination %q: not an IPv4 CIDR", x)
			}
			dests = append(dests, p.Masked())
		}
	}
	return dests, gw, nil
}

// DockerHost is the Docker API address a client reaches the VCH at: the
// client network's static address, or "" when it comes from DHCP.
func (c *Config) DockerHost() string {
	if c.Network.Client.IP == "" {
		return ""
	}
	p, err := netip.ParsePrefix(c.Network.Client.IP)
	if err != nil {
		return ""
	}
	port := APIPort
	if c.TLS.NoTLS {
		port = APIPortNoTLS
	}
	return "tcp://" + netip.AddrPortFrom(p.Addr(), uint16(port)).String()
}
