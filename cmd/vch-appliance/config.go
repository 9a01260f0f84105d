package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/vchconfig"
	"github.com/vchproject/vch/tether/guestinfo"
)

// Paths on the appliance.
const (
	// root is vchd's state directory: the data disk's mount point (the
	// initramfs's tmpfs on an endpoint VM without one).
	root = "/var/lib/vch"
	// tlsDir holds the API's CA, certificate and key.
	tlsDir = "/etc/vch/tls"
	// settingsPath is the appliance settings file vchd reads.
	settingsPath = "/etc/vch/appliance.json"
	vchdPath     = "/bin/vchd"
)

// readConfig reads the VCH's keys from src and decodes them.
func readConfig(src guestinfo.Source) (*vice.Config, map[string]string, error) {
	kv, err := vice.Read(func(k string) (string, bool, error) {
		v, err := src.Get(k)
		if errors.Is(err, guestinfo.ErrNotSet) {
			return "", false, nil
		}
		return v, err == nil, err
	})
	if err != nil {
		return nil, nil, err
	}
	c, err := vice.Decode(kv)
	if err != nil {
		return nil, nil, err
	}
	return c, kv, nil
}

// route is one route of a NIC: to dst (the default route when invalid)
// through gw.
type route struct {
	dst netip.Prefix
	gw  netip.Addr
}

// nicPlan is what one endpoint NIC gets.
type nicPlan struct {
	networks []string // public, client, management: those on this NIC
	mac      net.HardwareAddr
	addr     netip.Prefix // invalid: DHCP
	routes   []route
}

// dhcp tells whether the NIC's address comes from DHCP.
func (n nicPlan) dhcp() bool { return !n.addr.IsValid() }

// planNICs groups the endpoint's networks by NIC (MAC): the address and
// gateway as create recorded them. The public network's plain gateway is
// the default route; client and management gateways route their
// destinations.
func planNICs(c *vice.Config) ([]nicPlan, error) {
	var out []nicPlan
	byMAC := map[string]int{}
	for _, e := range []struct {
		name string
		n    vice.EndpointNetwork
	}{{"public", c.Network.Public}, {"client", c.Network.Client}, {"management", c.Network.Management}} {
		if e.n.MAC == "" {
			return nil, fmt.Errorf("the %s network's NIC has no MAC in the config (made by an older vic-machine?)", e.name)
		}
		mac, err := net.ParseMAC(e.n.MAC)
		if err != nil {
			return nil, fmt.Errorf("the %s network's MAC: %w", e.name, err)
		}
		i, ok := byMAC[mac.String()]
		if !ok {
			i = len(out)
			byMAC[mac.String()] = i
			out = append(out, nicPlan{mac: mac})
		}
		p := &out[i]
		p.networks = append(p.networks, e.name)
		if e.n.IP != "" {
			a, err := netip.ParsePrefix(e.n.IP)
			if err != nil {
				return nil, fmt.Errorf("the %s network's address %q: %w", e.name, e.n.IP, err)
			}
			if p.addr.IsValid() && p.addr != a {
				return nil, fmt.Errorf("the %s network's address %s: its NIC has %s already", e.name, a, p.addr)
			}
			p.addr = a
		}
		if e.n.Gateway != "" {
			dests, gw, err := vice.ParseGateway(e.n.Gateway)
			if err != nil {
				return nil, fmt.Errorf("the %s network's gateway %q: %w", e.name, e.n.Gateway, err)
			}
			if len(dests) == 0 {
				p.routes = append(p.routes, route{gw: gw})
			}
			for _, d := range dests {
				p.routes = append(p.routes, route{dst: d, gw: gw})
			}
		}
	}
	return out, nil
}

// lease is what the network setup found out: each network's address
// (static or from DHCP) and the DNS servers.
type lease struct {
	addrs map[string]netip.Addr // by network name
	dns   []netip.Addr
}

// settings is the appliance's part of vchd's config.
func settings(c *vice.Config, l lease) vchconfig.Appliance {
	a := vchconfig.Appliance{
		Root: root, APIAddr: fmt.Sprintf(":%d", vice.APIPort),
		NoTLS: c.TLS.NoTLS, NoTLSVerify: c.TLS.NoTLSVerify, TLSCNames: c.TLS.CNames,
		Serial:   fmt.Sprintf(":%d", vice.SerialPort),
		Endpoint: true,
	}
	if c.TLS.NoTLS {
		a.APIAddr = fmt.Sprintf(":%d", vice.APIPortNoTLS)
	} else {
		a.CACert = filepath.Join(tlsDir, "ca.pem")
		a.ServerCert = filepath.Join(tlsDir, "server-cert.pem")
		a.ServerKey = filepath.Join(tlsDir, "server-key.pem")
	}
	if c.Registry.CA != "" {
		a.RegistryCAFile = filepath.Join(tlsDir, "registry-ca.pem")
	}
	if ip, ok := l.addrs["public"]; ok {
		a.SerialAddr = netip.AddrPortFrom(ip, vice.SerialPort).String()
	}
	return a
}

// etcFiles are /etc/hostname, /etc/hosts and /etc/resolv.conf.
func etcFiles(c *vice.Config, l lease) map[string]string {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
	seen := map[netip.Addr]bool{}
	for _, n := range []string{"public", "client", "management"} {
		if ip, ok := l.addrs[n]; ok && !seen[ip] {
			seen[ip] = true
			hosts += ip.String() + "\t" + c.Name + "\n"
		}
	}
	var resolv strings.Builder
	for _, d := range l.dns {
		fmt.Fprintf(&resolv, "nameserver %s\n", d)
	}
	return map[string]string{"/etc/hostname": c.Name + "\n", "/etc/hosts": hosts, "/etc/resolv.conf": resolv.String()}
}

// writeFiles writes the /etc files, the TLS files and the settings under
// top ("/" on the appliance).
func writeFiles(top string, c *vice.Config, l lease) error {
	files := etcFiles(c, l)
	if !c.TLS.NoTLS {
		for name, v := range map[string]string{"ca.pem": c.TLS.CACert, "server-cert.pem": c.TLS.ServerCert, "server-key.pem": c.TLS.ServerKey} {
			pem, err := vice.DecodePEM(v)
			if err != nil || len(pem) == 0 {
				return fmt.Errorf("TLS %s: the config holds none (%v)", name, err)
			}
			files[filepath.Join(tlsDir, name)] = string(pem)
		}
	}
	if c.Registry.CA != "" {
		pem, err := vice.DecodePEM(c.Registry.CA)
		if err != nil {
			return fmt.Errorf("registry CAs: %w", err)
		}
		files[filepath.Join(tlsDir, "registry-ca.pem")] = string(pem)
	}
	b, err := json.MarshalIndent(settings(c, l), "", "  ")
	if err != nil {
		return err
	}
	files[settingsPath] = string(b)
	for p, v := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, "key.pem") || p == settingsPath {
			mode = 0o600
		}
		p = filepath.Join(top, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(v), mode); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return os.MkdirAll(filepath.Join(top, root), 0o700)
}
