package vsphere

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/certs"
)

// NetworkAddressing is one endpoint network's --X-network-ip and
// --X-network-gateway.
type NetworkAddressing struct {
	IP      string // CIDR; "" : DHCP
	Gateway string // public: IP; client, management: [DEST[,DEST…]:]IP
}

// EndpointTLS is create's TLS settings (--cert-path, --tls-cname,
// --no-tlsverify, --no-tls).
type EndpointTLS struct {
	// CertPath is where the CA, server and client certificates are
	// written (the DOCKER_CERT_PATH); existing ones there are used as
	// they are, as VIC did.
	CertPath    string
	CNames      []string
	NoTLS       bool
	NoTLSVerify bool
}

// staticMACRange is VMware's range for manually assigned MACs:
// 00:50:56:00:00:00 to 00:50:56:3f:ff:ff.
func newStaticMAC() (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("MAC address: %w", err)
	}
	return fmt.Sprintf("00:50:56:%02x:%02x:%02x", b[0]&0x3f, b[1], b[2]), nil
}

// planEndpointNetworks fills the public, client and management networks'
// addressing and gives each distinct port group's NIC a fixed MAC;
// networks on one port group share the NIC, its MAC and its address. The
// NIC on the bridge port group (a port group of its own) gets a MAC of its
// own too, recorded as n.BridgeMAC. The MACs returned are by port group.
func planEndpointNetworks(n *vice.Network, addr map[string]NetworkAddressing, dns []string) (map[string]string, error) {
	if err := planAddressing(n, addr, dns); err != nil {
		return nil, err
	}
	macs := map[string]string{} // port group -> MAC
	for _, e := range []*vice.EndpointNetwork{&n.Public, &n.Client, &n.Management} {
		if _, ok := macs[e.Name]; !ok {
			mac, err := unusedMAC(macs)
			if err != nil {
				return nil, err
			}
			macs[e.Name] = mac
		}
		e.MAC = macs[e.Name]
	}
	if n.Bridge.Name != "" {
		if _, ok := macs[n.Bridge.Name]; ok {
			return nil, fmt.Errorf("--bridge-network %s is also an endpoint network: the bridge needs a port group of its own", n.Bridge.Name)
		}
		mac, err := unusedMAC(macs)
		if err != nil {
			return nil, err
		}
		macs[n.Bridge.Name] = mac
		n.BridgeMAC = mac
	}
	return macs, nil
}

// planAddressing checks the public, client and management networks'
// --X-network-ip and -gateway and the --dns-server values and sets them
// in n (IP, Gateway, DNS; MACs stay). Networks on one port group share
// its address. create and configure both check with it.
func planAddressing(n *vice.Network, addr map[string]NetworkAddressing, dns []string) error {
	nets := []struct {
		flag string
		e    *vice.EndpointNetwork
	}{{"public", &n.Public}, {"client", &n.Client}, {"management", &n.Management}}
	ips := map[string]string{} // port group -> CIDR
	gateways := map[string]string{}
	for _, x := range nets {
		a := addr[x.flag]
		if a.IP != "" {
			p, err := netip.ParsePrefix(a.IP)
			if err != nil || !p.Addr().Is4() || p.Bits() == 32 || p.Addr() == p.Masked().Addr() {
				return fmt.Errorf("--%s-network-ip %q: give the endpoint's IPv4 address with its mask, e.g. 10.0.0.5/24", x.flag, a.IP)
			}
			if prev, ok := ips[x.e.Name]; ok && prev != a.IP {
				return fmt.Errorf("--%s-network-ip %s: port group %s has address %s already (networks on one port group share the endpoint's NIC)", x.flag, a.IP, x.e.Name, prev)
			}
			ips[x.e.Name] = a.IP
		}
		if a.Gateway != "" {
			dests, gw, err := vice.ParseGateway(a.Gateway)
			if err != nil {
				return fmt.Errorf("--%s-network-gateway %q: %w", x.flag, a.Gateway, err)
			}
			if a.IP == "" {
				return fmt.Errorf("--%s-network-gateway needs --%s-network-ip: with DHCP the gateway comes from DHCP", x.flag, x.flag)
			}
			if p := netip.MustParsePrefix(a.IP); !p.Masked().Contains(gw) {
				return fmt.Errorf("--%s-network-gateway %s is not on %s's subnet %s", x.flag, gw, a.IP, p.Masked())
			}
			if len(dests) == 0 {
				if x.flag != "public" {
					return fmt.Errorf("--%s-network-gateway %q: on the %s network give the destinations it routes to, DEST[,DEST…]:%s (the default route is the public network's)", x.flag, a.Gateway, x.flag, gw)
				}
			}
		}
		gateways[x.flag] = a.Gateway
	}
	for _, d := range dns {
		if a, err := netip.ParseAddr(d); err != nil || !a.Is4() {
			return fmt.Errorf("--dns-server %q: not an IPv4 address", d)
		}
	}
	for _, x := range nets {
		x.e.IP = ips[x.e.Name]
		x.e.Gateway = gateways[x.flag]
	}
	n.DNS = dns
	return nil
}

// unusedMAC draws a static MAC that none of macs has.
func unusedMAC(macs map[string]string) (string, error) {
	for {
		mac, err := newStaticMAC()
		if err != nil || !used(macs, mac) {
			return mac, err
		}
	}
}

func used(macs map[string]string, mac string) bool {
	for _, m := range macs {
		if m == mac {
			return true
		}
	}
	return false
}

// CAKeyFile is the CA's key in create's --cert-path: configure signs new
// server certificates with it.
const CAKeyFile = "ca-key.pem"

// serverNames are the server certificate's names: the VCH's name, the
// --tls-cname names and the endpoint's static addresses.
func serverNames(name string, n vice.Network, cnames []string) certs.Options {
	var ips []net.IP
	seen := map[string]bool{}
	for _, e := range []vice.EndpointNetwork{n.Public, n.Client, n.Management} {
		if e.IP != "" && !seen[e.IP] {
			seen[e.IP] = true
			ips = append(ips, netip.MustParsePrefix(e.IP).Addr().AsSlice())
		}
	}
	return certs.Options{CommonName: name, DNSNames: append([]string{name}, cnames...), IPs: ips}
}

// ServerCertNames are the names and addresses the VCH's server
// certificate is for (besides localhost and the loopback addresses).
func ServerCertNames(c *vice.Config) []string {
	o := serverNames(c.Name, c.Network, c.TLS.CNames)
	names := o.DNSNames
	for _, ip := range o.IPs {
		names = append(names, ip.String())
	}
	return names
}

// planTLS makes (or reuses) the certificates in o.CertPath and returns
// what the endpoint needs of them, and whether this call made the folder
// (to be removed again if create fails).
func planTLS(name string, n vice.Network, o EndpointTLS) (vice.TLS, bool, error) {
	t := vice.TLS{NoTLS: o.NoTLS, NoTLSVerify: o.NoTLSVerify, CNames: o.CNames}
	if o.NoTLS {
		return t, false, nil
	}
	if o.CertPath == "" {
		return t, false, fmt.Errorf("no --cert-path for the VCH's certificates")
	}
	made := false
	if _, err := os.Stat(filepath.Join(o.CertPath, certs.CA)); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(o.CertPath); errors.Is(err, os.ErrNotExist) {
			made = true
		}
		if err := certs.Generate(o.CertPath, filepath.Join(o.CertPath, CAKeyFile), serverNames(name, n, o.CNames)); err != nil {
			if made {
				os.RemoveAll(o.CertPath)
			}
			return t, false, fmt.Errorf("--cert-path %s: %w", o.CertPath, err)
		}
	}
	read := func(f string) (string, error) {
		b, err := os.ReadFile(filepath.Join(o.CertPath, f))
		if err != nil {
			return "", fmt.Errorf("--cert-path: %w", err)
		}
		return vice.EncodePEM(b), nil
	}
	var err error
	for _, f := range []struct {
		file string
		dst  *string
	}{{certs.CA, &t.CACert}, {certs.ServerCert, &t.ServerCert}, {certs.ServerKey, &t.ServerKey}} {
		if *f.dst, err = read(f.file); err != nil {
			if made {
				os.RemoveAll(o.CertPath)
			}
			return t, false, err
		}
	}
	return t, made, nil
}
