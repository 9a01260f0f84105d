package vsphere

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/certs"
)

// powerEvents are the endpoint VM's power-on and power-off events, oldest
// first: its power-state history.
func powerEvents(t *testing.T, s *Session, v *VCH) []string {
	t.Helper()
	ctx := ctxT(t)
	evs, err := event.NewManager(s.Client).QueryEvents(ctx, types.EventFilterSpec{
		Entity: &types.EventFilterSpecByEntity{Entity: v.VM.Reference(), Recursion: types.EventFilterSpecRecursionOptionSelf}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		switch e.(type) {
		case *types.VmPoweredOnEvent:
			out = append(out, "on")
		case *types.VmPoweredOffEvent:
			out = append(out, "off")
		}
	}
	if len(evs) > 0 && evs[0].GetEvent().Key > evs[len(evs)-1].GetEvent().Key {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// serverLeaf is the config's server certificate, checked against its key
// and verified against the config's CA for each of names.
func serverLeaf(t *testing.T, c *vice.Config, names ...string) *x509.Certificate {
	t.Helper()
	dec := func(s string) []byte {
		b, err := vice.DecodePEM(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	kp, err := tls.X509KeyPair(dec(c.TLS.ServerCert), dec(c.TLS.ServerKey))
	if err != nil {
		t.Fatalf("server key pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(dec(c.TLS.CACert)) {
		t.Fatal("no CA in the config")
	}
	for _, n := range names {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: n}); err != nil {
			t.Errorf("server certificate for %s: %v", n, err)
		}
	}
	return leaf
}

// writeCA writes a self-signed CA certificate, PEM, to a file.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "registry CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "registry-ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func sp(s string) *string { return &s }

// configure changes the endpoint's addresses, gateways and DNS servers
// (the MACs stay), its certificate names (a new server certificate signed
// by the VCH's CA, also in the cert path) and the registries; a running
// endpoint VM is power-cycled to read them, one that is off is not
// touched; inspect config repeats the new settings.
func TestConfigureEndpoint(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	o := baseOptions("vch-cf")
	o.Client = "DC0_DVPG1"
	o.Addressing = map[string]NetworkAddressing{"public": {IP: "10.0.0.5/24", Gateway: "10.0.0.1"}}
	o.TLS.CNames = []string{"old.example.com"}
	o.Registry.Insecure = []string{"old.local:5000"}
	if _, err := s.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	v, err := s.Find(ctx, "vch-cf", "")
	if err != nil {
		t.Fatal(err)
	}
	before := *v.Config
	if got := powerEvents(t, s, v); !reflect.DeepEqual(got, []string{"on"}) {
		t.Fatalf("power events after create: %q", got)
	}
	caFile := writeCA(t)
	caPEM, _ := os.ReadFile(caFile)
	res, err := s.Configure(ctx, v, ConfigureOptions{
		Addressing: map[string]AddressingChange{"public": {IP: sp("10.0.1.5/24"), Gateway: sp("10.0.1.1")},
			"client": {IP: sp("10.2.0.9/16"), Gateway: sp("10.3.0.0/16:10.2.0.1")}},
		DNS: []string{"10.0.1.53"}, CNames: []string{"new.example.com", "vch.example.org"},
		Insecure: []string{"reg.local:5000"}, Mirrors: []string{"https://mirror.local"}, RegistryCAs: []string{caFile},
		CertPath: o.TLS.CertPath,
	})
	if err != nil || !res.Changed || !res.NewServerCert || !res.Restarted || res.NeedsBoot {
		t.Fatalf("configure: %+v %v", res, err)
	}
	got, err := s.Find(ctx, "vch-cf", "")
	if err != nil {
		t.Fatal(err)
	}
	c := got.Config
	n := c.Network
	if n.Public.IP != "10.0.1.5/24" || n.Public.Gateway != "10.0.1.1" || n.Management.IP != "10.0.1.5/24" || n.Client.IP != "10.2.0.9/16" ||
		n.Client.Gateway != "10.3.0.0/16:10.2.0.1" || strings.Join(n.DNS, ",") != "10.0.1.53" {
		t.Errorf("networks after configure: %+v", n)
	}
	if n.Public.MAC != before.Network.Public.MAC || n.Client.MAC != before.Network.Client.MAC || n.BridgeMAC != before.Network.BridgeMAC || n.Public.MAC == "" {
		t.Errorf("MACs changed: %+v, were %+v", n, before.Network)
	}
	r := c.Registry
	if strings.Join(r.Insecure, ",") != "reg.local:5000" || len(r.Whitelist) != 0 || strings.Join(r.Mirrors, ",") != "https://mirror.local" {
		t.Errorf("registry: %+v", r)
	}
	if ca, _ := vice.DecodePEM(r.CA); !strings.Contains(string(ca), strings.TrimSpace(string(caPEM))) {
		t.Errorf("registry CA: %q", ca)
	}
	if strings.Join(c.TLS.CNames, ",") != "new.example.com,vch.example.org" || c.TLS.CACert != before.TLS.CACert || c.TLS.ServerCert == before.TLS.ServerCert {
		t.Errorf("TLS after configure: names %q, CA kept %v, new server certificate %v", c.TLS.CNames, c.TLS.CACert == before.TLS.CACert, c.TLS.ServerCert != before.TLS.ServerCert)
	}
	leaf := serverLeaf(t, c, "new.example.com", "vch.example.org", "vch-cf", "10.0.1.5", "10.2.0.9")
	for _, old := range []string{"old.example.com", "10.0.0.5"} {
		if leaf.VerifyHostname(old) == nil {
			t.Errorf("the new server certificate still names %s", old)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(o.TLS.CertPath, certs.ServerCert)); vice.EncodePEM(b) != c.TLS.ServerCert {
		t.Error("the cert path's server certificate is not the new one")
	}
	if got := powerEvents(t, s, v); !reflect.DeepEqual(got, []string{"on", "off", "on"}) || got0(s, t, v) != types.VirtualMachinePowerStatePoweredOn {
		t.Errorf("power events after configure: %q", got)
	}
	line := strings.Join(CommandLine(c, simUser), " ")
	for _, want := range []string{"--public-network-ip 10.0.1.5/24 --public-network-gateway 10.0.1.1 --client-network-ip 10.2.0.9/16 --client-network-gateway 10.3.0.0/16:10.2.0.1 --dns-server 10.0.1.53 --tls-cname new.example.com --tls-cname vch.example.org",
		"--insecure-registry reg.local:5000 --registry-mirror https://mirror.local"} {
		if !strings.Contains(line, want) {
			t.Errorf("inspect config lacks %q: %s", want, line)
		}
	}

	// The pool's CPU alone is vSphere's to apply: no restart.
	if res, err := s.Configure(ctx, got, ConfigureOptions{CPU: &vice.Allocation{Limit: 2500, Reservation: 500, Shares: "high"}}); err != nil || !res.Changed || res.Restarted {
		t.Errorf("configure --cpu: %+v %v", res, err)
	}
	if got := powerEvents(t, s, v); len(got) != 3 {
		t.Errorf("power events after configure --cpu: %q", got)
	}

	// Powered off: the change is written, the VM stays off; back to DHCP
	// drops the gateway and the address from the certificate.
	if err := waitTask(ctx, v.VM.PowerOff); err != nil {
		t.Fatal(err)
	}
	got, err = s.Find(ctx, "vch-cf", "")
	if err != nil {
		t.Fatal(err)
	}
	res, err = s.Configure(ctx, got, ConfigureOptions{Addressing: map[string]AddressingChange{"public": {IP: sp("")}}, DNS: []string{}, CertPath: o.TLS.CertPath})
	if err != nil || !res.Changed || res.Restarted || !res.NeedsBoot || !res.NewServerCert {
		t.Fatalf("configure of a powered-off VCH: %+v %v", res, err)
	}
	if got := powerEvents(t, s, v); !reflect.DeepEqual(got, []string{"on", "off", "on", "off"}) || got0(s, t, v) != types.VirtualMachinePowerStatePoweredOff {
		t.Errorf("power events after configuring a powered-off VCH: %q", got)
	}
	got, err = s.Find(ctx, "vch-cf", "")
	if err != nil {
		t.Fatal(err)
	}
	n = got.Config.Network
	if n.Public.IP != "" || n.Public.Gateway != "" || n.Management.IP != "" || n.Client.IP != "10.2.0.9/16" || len(n.DNS) != 0 {
		t.Errorf("networks after --public-network-ip= --dns-server=: %+v", n)
	}
	if leaf := serverLeaf(t, got.Config, "10.2.0.9", "new.example.com"); leaf.VerifyHostname("10.0.1.5") == nil {
		t.Error("the server certificate still names the public network's old address")
	}
}

func got0(s *Session, t *testing.T, v *VCH) types.VirtualMachinePowerState {
	t.Helper()
	st, err := v.VM.PowerState(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Bad addressing, DNS servers, registries or certificate material: one
// line, and nothing changes: not the target's inventory, not the config,
// not the VM's power, not the cert path.
func TestConfigureEndpointRefusals(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	o := baseOptions("vch-cr")
	o.Client = "DC0_DVPG1"
	o.Addressing = map[string]NetworkAddressing{"public": {IP: "10.0.0.5/24", Gateway: "10.0.0.1"}, "client": {IP: "10.2.0.5/24"}}
	if _, err := s.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	noKey := filepath.Join(t.TempDir(), "nokey")
	if err := os.MkdirAll(noKey, 0o700); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(filepath.Join(o.TLS.CertPath, certs.CA))
	if err := os.WriteFile(filepath.Join(noKey, certs.CA), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	other := baseOptions("other").TLS.CertPath
	if err := certs.Generate(other, filepath.Join(other, CAKeyFile), certs.Options{CommonName: "other"}); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(notPEM, []byte("no certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := s.Find(ctx, "vch-cr", "")
	if err != nil {
		t.Fatal(err)
	}
	files := func() string {
		var b strings.Builder
		for _, f := range []string{certs.CA, certs.ServerCert, certs.ServerKey, CAKeyFile} {
			d, _ := os.ReadFile(filepath.Join(o.TLS.CertPath, f))
			b.Write(d)
		}
		return b.String()
	}
	inv, events, certFiles := inventory(t, s), powerEvents(t, s, v), files()
	cp := o.TLS.CertPath
	for _, c := range []struct {
		o    ConfigureOptions
		want string
	}{
		{ConfigureOptions{Addressing: map[string]AddressingChange{"public": {IP: sp("10.0.0.5")}}, CertPath: cp}, `--public-network-ip "10.0.0.5": give the endpoint's IPv4 address with its mask`},
		{ConfigureOptions{Addressing: map[string]AddressingChange{"public": {IP: sp("10.9.0.5/24")}}, CertPath: cp}, "--public-network-gateway 10.0.0.1 is not on 10.9.0.5/24's subnet"},
		{ConfigureOptions{Addressing: map[string]AddressingChange{"client": {Gateway: sp("10.2.0.1")}}, CertPath: cp}, "on the client network give the destinations"},
		{ConfigureOptions{Addressing: map[string]AddressingChange{"client": {IP: sp(""), Gateway: sp("10.1.0.0/16:10.2.0.1")}}, CertPath: cp}, "--client-network-gateway needs --client-network-ip"},
		{ConfigureOptions{Addressing: map[string]AddressingChange{"public": {IP: sp("10.0.0.6/24")}, "management": {IP: sp("10.0.0.7/24")}}, CertPath: cp}, "both networks are on port group VM Network"},
		{ConfigureOptions{DNS: []string{"dns.example.com"}}, `--dns-server "dns.example.com": not an IPv4 address`},
		{ConfigureOptions{Insecure: []string{"http://reg"}}, "--insecure-registry"},
		{ConfigureOptions{Mirrors: []string{"mirror.local"}}, "--registry-mirror"},
		{ConfigureOptions{RegistryCAs: []string{notPEM}}, "--registry-ca: " + notPEM + " holds no PEM certificate"},
		{ConfigureOptions{RegistryCAs: []string{filepath.Join(noKey, "missing.pem")}}, "--registry-ca"},
		{ConfigureOptions{CNames: []string{"new.example.com"}, CertPath: noKey}, "--cert-path " + noKey + " has no CA key ca-key.pem"},
		{ConfigureOptions{CNames: []string{"new.example.com"}, CertPath: other}, "is not VCH vch-cr's CA"},
		{ConfigureOptions{CNames: []string{"new.example.com"}, CertPath: filepath.Join(noKey, "nothing")}, "give the folder create wrote VCH vch-cr's certificates to"},
		{ConfigureOptions{Addressing: map[string]AddressingChange{"client": {IP: sp("10.2.0.6/24")}}}, "no --cert-path"},
	} {
		v, err := s.Find(ctx, "vch-cr", "")
		if err != nil {
			t.Fatal(err)
		}
		ec := v.ExtraConfig
		res, err := s.Configure(ctx, v, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || res.Changed {
			t.Errorf("configure %+v: %+v %v\nwant one line with %q", c.o, res, err, c.want)
		}
		after, err := s.Find(ctx, "vch-cr", "")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(after.ExtraConfig, ec) {
			t.Errorf("configure %+v changed the config", c.o)
		}
	}
	if gone, added := diff(inv, inventory(t, s)); len(gone)+len(added) > 0 {
		t.Errorf("refused configures changed the target: gone %q added %q", gone, added)
	}
	if got := powerEvents(t, s, v); !reflect.DeepEqual(got, events) {
		t.Errorf("refused configures powered the endpoint VM: %q, was %q", got, events)
	}
	if files() != certFiles {
		t.Error("refused configures changed the cert path")
	}
}
