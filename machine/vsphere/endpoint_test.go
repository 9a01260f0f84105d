package vsphere

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/certs"
)

// The endpoint's NICs get fixed MACs in VMware's static range, recorded
// per network (networks on one port group share the NIC); static
// addresses, gateways and DNS servers are in the config; the certificates
// are written to the cert path, the endpoint's part of them (server key
// sealed) in the config; without an ops user the login user's password
// is kept, sealed, so the appliance can log in.
func TestCreateEndpointNetworksAndTLS(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	o := baseOptions("vch-ep")
	o.Client, o.Management = "DC0_DVPG1", "VM Network"
	o.Addressing = map[string]NetworkAddressing{
		"public": {IP: "10.0.0.5/24", Gateway: "10.0.0.1"},
		"client": {IP: "10.2.0.5/16", Gateway: "10.3.0.0/16,10.4.0.0/16:10.2.0.1"},
	}
	o.DNS = []string{"10.0.0.2", "10.0.0.3"}
	o.TLS.CNames = []string{"vch.example.com"}
	v, err := s.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	found, err := s.Find(ctx, "vch-ep", "")
	if err != nil {
		t.Fatal(err)
	}
	n := found.Config.Network
	mac := regexp.MustCompile(`^00:50:56:[0-3][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$`)
	if !mac.MatchString(n.Public.MAC) || !mac.MatchString(n.Client.MAC) || n.Public.MAC == n.Client.MAC || n.Management.MAC != n.Public.MAC ||
		!mac.MatchString(n.BridgeMAC) || n.BridgeMAC == n.Public.MAC || n.BridgeMAC == n.Client.MAC {
		t.Errorf("MACs: public %q client %q management %q bridge %q", n.Public.MAC, n.Client.MAC, n.Management.MAC, n.BridgeMAC)
	}
	if n.Public.IP != "10.0.0.5/24" || n.Public.Gateway != "10.0.0.1" || n.Management.IP != "10.0.0.5/24" || n.Client.IP != "10.2.0.5/16" ||
		n.Client.Gateway != "10.3.0.0/16,10.4.0.0/16:10.2.0.1" || strings.Join(n.DNS, " ") != "10.0.0.2 10.0.0.3" {
		t.Errorf("endpoint networks %+v", n)
	}
	if got := found.Config.DockerHost(); got != "tcp://10.2.0.5:2376" {
		t.Errorf("docker host %q", got)
	}
	// The VM's NICs carry those MACs, set by hand.
	devices, err := v.VM.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	macs := map[string]string{} // manual MAC -> the NIC's port group key (distributed port groups)
	for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		c := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		if c.AddressType != string(types.VirtualEthernetCardMacTypeManual) {
			continue
		}
		macs[c.MacAddress] = ""
		if b, ok := c.Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); ok {
			macs[c.MacAddress] = b.Port.PortgroupKey
		}
	}
	if _, ok := macs[n.Public.MAC]; len(macs) != 3 || !ok || macs[n.Client.MAC] == "" || macs[n.BridgeMAC] != n.Bridge.ID || n.Bridge.ID == "" {
		t.Errorf("manual MACs on the endpoint VM (port group keys): %v; bridge %+v", macs, n.Bridge)
	}

	// TLS: the client's files in the cert path, the server's in the config.
	for _, f := range []string{certs.CA, certs.ClientCert, certs.ClientKey, "ca-key.pem"} {
		if _, err := os.Stat(filepath.Join(o.TLS.CertPath, f)); err != nil {
			t.Errorf("cert path: %v", err)
		}
	}
	tc := found.Config.TLS
	pemOf := func(s string) []byte {
		b, err := vice.DecodePEM(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	kp, err := tls.X509KeyPair(pemOf(tc.ServerCert), pemOf(tc.ServerKey))
	if err != nil {
		t.Fatalf("server key pair from the config: %v", err)
	}
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemOf(tc.CACert)) {
		t.Fatal("no CA in the config")
	}
	for _, name := range []string{"10.2.0.5", "10.0.0.5", "vch.example.com", "vch-ep"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if tc.NoTLS || tc.NoTLSVerify {
		t.Errorf("TLS %+v", tc)
	}
	key, _ := os.ReadFile(filepath.Join(o.TLS.CertPath, certs.ServerKey))
	for k, val := range found.ExtraConfig {
		if strings.Contains(val, vice.EncodePEM(key)) || strings.Contains(val, simPass) {
			t.Errorf("%s holds a secret in clear", k)
		}
	}
	if found.Config.Ops.User != simUser || found.Config.Ops.Password != simPass || found.ExtraConfig["guestinfo.vice.secret.password"] == "" {
		t.Errorf("ops user %q, password kept: %v", found.Config.Ops.User, found.Config.Ops.Password == simPass)
	}

	// A second VCH with the same cert path uses the certificates there;
	// DHCP: no Docker host is known.
	o2 := baseOptions("vch-dhcp")
	o2.Bridge = "DC0_DVPG1"
	o2.TLS.CertPath = o.TLS.CertPath
	v2, err := s.Create(ctx, o2)
	if err != nil {
		t.Fatal(err)
	}
	if v2.Config.TLS.CACert != tc.CACert || v2.Config.DockerHost() != "" || v2.Config.Network.Public.IP != "" || !mac.MatchString(v2.Config.Network.Public.MAC) {
		t.Errorf("second VCH: %+v", v2.Config.Network)
	}
}

// Each distinct port group gets one MAC: networks on one port group share
// it, the bridge's NIC has its own, and a bridge that is also an endpoint
// network is refused.
func TestPlanEndpointMACs(t *testing.T) {
	n := vice.Network{Bridge: vice.PortGroup{Name: "bridge-pg"}, Public: vice.EndpointNetwork{Name: "VM Network"},
		Client: vice.EndpointNetwork{Name: "client-pg"}, Management: vice.EndpointNetwork{Name: "VM Network"}}
	macs, err := planEndpointNetworks(&n, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(macs) != 3 || macs["bridge-pg"] != n.BridgeMAC || macs["VM Network"] != n.Public.MAC || macs["client-pg"] != n.Client.MAC ||
		n.Management.MAC != n.Public.MAC || n.BridgeMAC == n.Public.MAC || n.BridgeMAC == n.Client.MAC || n.Public.MAC == n.Client.MAC {
		t.Errorf("MACs %v, network %+v", macs, n)
	}
	clash := vice.Network{Bridge: vice.PortGroup{Name: "VM Network"}, Public: vice.EndpointNetwork{Name: "VM Network"}}
	if _, err := planEndpointNetworks(&clash, nil, nil); err == nil || clash.BridgeMAC != "" {
		t.Errorf("bridge on the public port group: %v, bridge MAC %q", err, clash.BridgeMAC)
	}
}

// A create that fails removes the cert path it made; --no-tls makes none.
func TestCreateFailureRemovesCerts(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	o := baseOptions("vch-fail")
	o.ApplianceISO = filepath.Join(t.TempDir(), "a.iso")
	if err := os.WriteFile(o.ApplianceISO, []byte("iso"), 0o644); err != nil {
		t.Fatal(err)
	}
	sm.service.AddFaultRule(&simulator.FaultInjectionRule{MethodName: "PowerOnVM_Task", ObjectType: "*", ObjectName: "*",
		Probability: 1, FaultType: simulator.FaultTypeGeneric, Message: "injected", Enabled: true})
	defer sm.service.ClearFaultRules()
	if _, err := s.Create(ctx, o); err == nil {
		t.Fatal("create with a failing power-on succeeded")
	}
	if _, err := os.Stat(o.TLS.CertPath); !os.IsNotExist(err) {
		t.Errorf("the cert path is still there: %v", err)
	}
	sm.service.ClearFaultRules()
	o.TLS = EndpointTLS{NoTLS: true, CertPath: o.TLS.CertPath}
	v, err := s.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(o.TLS.CertPath); !os.IsNotExist(err) || !v.Config.TLS.NoTLS || v.Config.TLS.ServerCert != "" {
		t.Errorf("--no-tls: cert path %v, TLS %+v", err, v.Config.TLS)
	}
}
