package vice

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func sample() *Config {
	return &Config{
		Name: "vch02", Version: "v1.2.3", Target: "vc.example.com", Thumbprint: "AA:BB",
		Datacenter: "/DC0", ComputeResource: "/DC0/host/DC0_C0/Resources", Pool: "/DC0/host/DC0_C0/Resources/vch02", PoolKind: "pool",
		Ops: Ops{User: "ops@vsphere.local", Password: "s3cr3t p@ss", GrantPerms: true, Role: "vch-ops"},
		Storage: Storage{Image: Datastore{Datastore: "LocalDS_0", Path: "vch02/images"},
			Volumes:       []VolumeStore{{Label: "default", Datastore: "LocalDS_0", Path: "volumes"}, {Label: "fast", Datastore: "ssd", Path: "v"}},
			BaseImageSize: 8 << 30},
		TLS: TLS{CACert: EncodePEM([]byte("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n")), ServerCert: EncodePEM([]byte("cert")),
			ServerKey: EncodePEM([]byte("-----BEGIN EC PRIVATE KEY-----\nk3y\n")), NoTLSVerify: true, CNames: []string{"vch02.example.com"}},
		Network: Network{Bridge: PortGroup{Name: "DC0_DVPG0", ID: "dvportgroup-11"}, BridgeMAC: "00:50:56:01:02:05",
			Public:     EndpointNetwork{Name: "VM Network", ID: "network-7", IP: "10.0.0.5/24", Gateway: "10.0.0.1", MAC: "00:50:56:01:02:03"},
			Client:     EndpointNetwork{Name: "client", ID: "network-8", Gateway: "10.3.0.0/16,10.4.0.0/16:10.1.0.1", MAC: "00:50:56:01:02:04"},
			DNS:        []string{"10.0.0.2"},
			Containers: []ContainerNetwork{{PortGroup: PortGroup{Name: "web"}, Alias: "public", Gateway: "10.0.0.1/24", DNS: []string{"10.0.0.2", "10.0.0.3"}}}},
		Resources: Resources{CPU: Allocation{Limit: 2000, Reservation: 500, Shares: "high"}, Memory: Allocation{Limit: 4096, Shares: "normal"}},
		Container: Container{NameConvention: "team-{name}", CPUs: 2, MemoryMB: 512},
		Debug:     true,
	}
}

// What Encode writes, Decode reads back; secrets never appear in clear.
func TestRoundTrip(t *testing.T) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	c := sample()
	kv, err := Encode(c, key)
	if err != nil {
		t.Fatal(err)
	}
	safe := regexp.MustCompile(`^guestinfo\.vice\.[a-z0-9.]+$`)
	for k, v := range kv {
		if !safe.MatchString(k) {
			t.Errorf("key %q has characters a shell would mangle", k)
		}
		if strings.Contains(v, "s3cr3t") || strings.Contains(v, EncodePEM([]byte("-----BEGIN EC PRIVATE KEY-----\nk3y\n"))) {
			t.Errorf("%s holds the password in clear: %q", k, v)
		}
	}
	if kv["guestinfo.vice.network.container.0.dns.1"] != "10.0.0.3" || kv["guestinfo.vice.storage.volume.count"] != "2" ||
		kv["guestinfo.vice.network.public.mac"] != "00:50:56:01:02:03" || kv["guestinfo.vice.network.bridgemac"] != "00:50:56:01:02:05" || kv["guestinfo.vice.network.dns.0"] != "10.0.0.2" ||
		kv["guestinfo.vice.tls.notlsverify"] != "true" || kv["guestinfo.vice.secret.serverkey"] == "" {
		t.Errorf("layout differs from the documented one: %v", Keys(kv))
	}
	got, err := Decode(kv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, c)
	}
}

// A wrong key or a tampered secret is an error naming the key, never a
// wrong password handed on.
func TestDecodeRefusesBadSecrets(t *testing.T) {
	key, _ := NewKey()
	kv, err := Encode(sample(), key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKey()
	kv[KeyKey] = other
	if _, err := Decode(kv); err == nil || !strings.Contains(err.Error(), "guestinfo.vice.secret.password") {
		t.Errorf("decoded with another key: %v", err)
	}
	if _, err := Decode(map[string]string{"guestinfo.other": "x"}); err != ErrNotVCH {
		t.Errorf("not a VCH: %v", err)
	}
	kv[KeyKey] = key
	kv["guestinfo.vice.resources.cpu.limit"] = "lots"
	if _, err := Decode(kv); err == nil || !strings.Contains(err.Error(), "resources.cpu.limit") {
		t.Errorf("bad number: %v", err)
	}
}
