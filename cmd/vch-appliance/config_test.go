package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/vchconfig"
	"github.com/vchproject/vch/tether/guestinfo"
)

func config() *vice.Config {
	return &vice.Config{Name: "vch1", Target: "10.0.2.100:8989",
		Ops: vice.Ops{User: "admin", Password: "s3cret"},
		TLS: vice.TLS{CACert: vice.EncodePEM([]byte("CA PEM\n")), ServerCert: vice.EncodePEM([]byte("CERT PEM\n")), ServerKey: vice.EncodePEM([]byte("KEY PEM\n"))},
		Network: vice.Network{
			Public:     vice.EndpointNetwork{Name: "VM Network", IP: "10.0.2.15/24", Gateway: "10.0.2.2", MAC: "00:50:56:01:02:03"},
			Client:     vice.EndpointNetwork{Name: "client", Gateway: "10.8.0.0/16,10.9.0.0/16:10.1.0.1", MAC: "00:50:56:01:02:04"},
			Management: vice.EndpointNetwork{Name: "VM Network", IP: "10.0.2.15/24", MAC: "00:50:56:01:02:03"},
			DNS:        []string{"10.0.2.3"},
		}}
}

// The guestinfo keys, as a fw_cfg item holds them, decode to the config
// vic-machine encoded (secrets included).
func TestReadConfigFromFwCfg(t *testing.T) {
	key, err := vice.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := vice.Encode(config(), key)
	if err != nil {
		t.Fatal(err)
	}
	item := map[string]string{"guestinfo.vch.other": "x"}
	for k, v := range kv {
		item[k] = v
	}
	b, _ := json.Marshal(item)
	path := filepath.Join(t.TempDir(), "raw")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := guestinfo.ReadFwCfg(path)
	if err != nil {
		t.Fatal(err)
	}
	c, got, err := readConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["guestinfo.vch.other"]; ok || got[vice.KeyKey] != key {
		t.Errorf("keys read: %v", vice.Keys(got))
	}
	if !reflect.DeepEqual(c, config()) {
		t.Errorf("config\n%+v\nwant\n%+v", c, config())
	}
	if _, _, err := readConfig(guestinfo.FwCfg{}); err != vice.ErrNotVCH {
		t.Errorf("no keys: %v", err)
	}
}

// Networks on one port group share a NIC; the public gateway is the
// default route, the client's routes its destinations; no address is DHCP.
func TestPlanNICs(t *testing.T) {
	plans, err := planNICs(config())
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 {
		t.Fatalf("plans %+v", plans)
	}
	pub, cli := plans[0], plans[1]
	if strings.Join(pub.networks, ",") != "public,management" || pub.mac.String() != "00:50:56:01:02:03" || pub.addr != netip.MustParsePrefix("10.0.2.15/24") ||
		!reflect.DeepEqual(pub.routes, []route{{gw: netip.MustParseAddr("10.0.2.2")}}) || pub.dhcp() {
		t.Errorf("public NIC %+v", pub)
	}
	want := []route{{dst: netip.MustParsePrefix("10.8.0.0/16"), gw: netip.MustParseAddr("10.1.0.1")}, {dst: netip.MustParsePrefix("10.9.0.0/16"), gw: netip.MustParseAddr("10.1.0.1")}}
	if !cli.dhcp() || !reflect.DeepEqual(cli.routes, want) {
		t.Errorf("client NIC %+v", cli)
	}
	c := config()
	c.Network.Management.IP = "10.0.2.16/24"
	if _, err := planNICs(c); err == nil || !strings.Contains(err.Error(), "its NIC has 10.0.2.15/24 already") {
		t.Errorf("two addresses on one NIC: %v", err)
	}
	c = config()
	c.Network.Client.MAC = ""
	if _, err := planNICs(c); err == nil || !strings.Contains(err.Error(), "the client network's NIC has no MAC") {
		t.Errorf("no MAC: %v", err)
	}
}

// The files the appliance writes: hostname, hosts, resolv.conf, the TLS
// files and vchd's appliance settings (serial concentrator dialled at the
// public address).
func TestWriteFiles(t *testing.T) {
	top := t.TempDir()
	l := lease{addrs: map[string]netip.Addr{"public": netip.MustParseAddr("10.0.2.15"), "management": netip.MustParseAddr("10.0.2.15"), "client": netip.MustParseAddr("10.1.0.7")},
		dns: []netip.Addr{netip.MustParseAddr("10.0.2.3")}}
	if err := writeFiles(top, config(), l); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(top, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("/etc/hosts"); got != "127.0.0.1\tlocalhost\n::1\tlocalhost\n10.0.2.15\tvch1\n10.1.0.7\tvch1\n" {
		t.Errorf("hosts %q", got)
	}
	if got := read("/etc/resolv.conf"); got != "nameserver 10.0.2.3\n" {
		t.Errorf("resolv.conf %q", got)
	}
	if read("/etc/hostname") != "vch1\n" || read("/etc/vch/tls/server-key.pem") != "KEY PEM\n" || read("/etc/vch/tls/ca.pem") != "CA PEM\n" {
		t.Error("hostname or TLS files differ")
	}
	if st, err := os.Stat(filepath.Join(top, "/etc/vch/tls/server-key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("server key mode: %v %v", st.Mode(), err)
	}
	var a vchconfig.Appliance
	if err := json.Unmarshal([]byte(read(settingsPath)), &a); err != nil {
		t.Fatal(err)
	}
	want := vchconfig.Appliance{Root: "/var/lib/vch", APIAddr: ":2376", CACert: "/etc/vch/tls/ca.pem", ServerCert: "/etc/vch/tls/server-cert.pem",
		ServerKey: "/etc/vch/tls/server-key.pem", Serial: ":2377", SerialAddr: "10.0.2.15:2377", Endpoint: true}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("settings\n%+v\nwant\n%+v", a, want)
	}
	// vchd turns them and the guestinfo into its config.
	cfg, err := vchconfig.FromVice(&vice.Config{Name: "vch1", Target: "t:443", Network: vice.Network{Bridge: vice.PortGroup{Name: "b"}},
		Storage: vice.Storage{Image: vice.Datastore{Datastore: "ds"}}}, a)
	if err != nil || cfg.APIAddr != ":2376" || cfg.VSphere.SerialAddr != "10.0.2.15:2377" || cfg.ServerKey != want.ServerKey || cfg.VSphere.EndpointVM != "vch1" {
		t.Errorf("vchd config %+v %v", cfg, err)
	}

	// Registry CAs are written beside the TLS files, for vchd.
	c := config()
	c.Registry.CA = vice.EncodePEM([]byte("REGISTRY CA PEM\n"))
	top = t.TempDir()
	if err := writeFiles(top, c, l); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(top, "/etc/vch/tls/registry-ca.pem")); err != nil || string(b) != "REGISTRY CA PEM\n" {
		t.Errorf("registry CA file: %q %v", b, err)
	}
	if s := settings(c, l); s.RegistryCAFile != "/etc/vch/tls/registry-ca.pem" {
		t.Errorf("settings name no registry CA file: %+v", s)
	}

	// --no-tls: plain HTTP on 2375, no TLS files needed.
	c = config()
	c.TLS = vice.TLS{NoTLS: true}
	if s := settings(c, l); s.APIAddr != ":2375" || s.ServerCert != "" || !s.NoTLS {
		t.Errorf("no-tls settings %+v", s)
	}
	if err := writeFiles(t.TempDir(), c, l); err != nil {
		t.Errorf("no-tls files: %v", err)
	}
	c = config()
	c.TLS.ServerKey = ""
	if err := writeFiles(t.TempDir(), c, l); err == nil || !strings.Contains(err.Error(), "server-key.pem") {
		t.Errorf("missing key: %v", err)
	}
}
