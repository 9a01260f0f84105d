package vchconfig

import (
	"strings"
	"testing"
)

func TestParseContainerNetworks(t *testing.T) {
	nets, err := ParseContainerNetworks(
		[]string{"br-pub:public", "br-lab"},
		[]string{"public:10.3.0.10-10.3.0.99", "br-lab:10.4.0.10-10.4.0.20"},
		[]string{"public:10.3.0.1/24", "br-lab:10.4.0.1/24"},
		[]string{"public:10.3.0.2", "public:10.3.0.3"},
		[]string{"br-lab:open"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 2 || nets[0].Alias != "public" || nets[0].Bridge != "br-pub" || nets[0].Firewall != "published" ||
		len(nets[0].DNS) != 2 || nets[1].Alias != "br-lab" || nets[1].Firewall != "open" {
		t.Fatalf("parsed: %+v", nets)
	}
	gw, from, to, dns, err := nets[0].Parsed()
	if err != nil || gw.String() != "10.3.0.1/24" || from.String() != "10.3.0.10" || to.String() != "10.3.0.99" || len(dns) != 2 {
		t.Fatalf("Parsed: %v %v %v %v %v", gw, from, to, dns, err)
	}

	for _, c := range []struct {
		name                                  string
		nets, ranges, gateways, dns, firewall []string
		want                                  string
	}{
		{"no gateway", []string{"b:p"}, []string{"p:10.3.0.10-10.3.0.20"}, nil, nil, nil, "--container-network-gateway p:GW/PREFIX"},
		{"no range", []string{"b:p"}, nil, []string{"p:10.3.0.1/24"}, nil, nil, "--container-network-ip-range p:FROM-TO"},
		{"unknown alias", []string{"b:p"}, []string{"q:10.3.0.10-10.3.0.20"}, nil, nil, nil, "no --container-network has the alias q"},
		{"range outside", []string{"b:p"}, []string{"p:10.4.0.10-10.4.0.20"}, []string{"p:10.3.0.1/24"}, nil, nil, "not inside"},
		{"descending", []string{"b:p"}, []string{"p:10.3.0.20-10.3.0.10"}, []string{"p:10.3.0.1/24"}, nil, nil, "ascending"},
		{"bad level", []string{"b:p"}, []string{"p:10.3.0.10-10.3.0.20"}, []string{"p:10.3.0.1/24"}, nil, []string{"p:wide"}, "want one of closed"},
		{"docker's name", []string{"b:bridge"}, nil, nil, nil, nil, "docker's own network name"},
		{"same bridge", []string{"b:p", "b:q"}, []string{"p:10.3.0.10-10.3.0.20", "q:10.4.0.10-10.4.0.20"}, []string{"p:10.3.0.1/24", "q:10.4.0.1/24"}, nil, nil, "share the bridge b"},
		{"alias twice", []string{"b:p", "c:p"}, nil, nil, nil, nil, "alias p is given twice"},
		{"level twice", []string{"b:p"}, []string{"p:10.3.0.10-10.3.0.20"}, []string{"p:10.3.0.1/24"}, nil, []string{"p:open", "p:closed"}, "given twice"},
		{"overlap", []string{"b:p", "c:q"}, []string{"p:10.3.0.10-10.3.0.20", "q:10.3.0.30-10.3.0.40"}, []string{"p:10.3.0.1/24", "q:10.3.0.2/16"}, nil, nil, "overlapping subnets"},
		{"bad dns", []string{"b:p"}, []string{"p:10.3.0.10-10.3.0.20"}, []string{"p:10.3.0.1/24"}, []string{"p:dns.example"}, nil, "want an IP address"},
		{"long bridge", []string{"a-very-long-bridge-name:p"}, []string{"p:10.3.0.10-10.3.0.20"}, []string{"p:10.3.0.1/24"}, nil, nil, "at most 15"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseContainerNetworks(c.nets, c.ranges, c.gateways, c.dns, c.firewall)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

// configure: a companion option changes a network the VCH has; the
// result holds only the networks touched.
func TestEditContainerNetworks(t *testing.T) {
	base, err := ParseContainerNetworks([]string{"b1:p", "b2:q"}, []string{"p:10.3.0.10-10.3.0.20", "q:10.4.0.10-10.4.0.20"},
		[]string{"p:10.3.0.1/24", "q:10.4.0.1/24"}, []string{"p:10.3.0.2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := EditContainerNetworks(base, nil, nil, nil, []string{"p:10.3.0.3"}, []string{"p:closed"})
	if err != nil || len(got) != 1 || got[0].Alias != "p" || got[0].Firewall != "closed" || len(got[0].DNS) != 1 || got[0].DNS[0] != "10.3.0.3" || got[0].IPRange != "10.3.0.10-10.3.0.20" {
		t.Fatalf("edit: %+v, %v", got, err)
	}
	if _, err := EditContainerNetworks(base, []string{"b3:r"}, []string{"r:10.4.0.30-10.4.0.40"}, []string{"r:10.4.0.1/24"}, nil, nil); err == nil || !strings.Contains(err.Error(), "overlapping") {
		t.Fatalf("a new network overlapping q: %v", err)
	}
	if _, err := EditContainerNetworks(base, nil, nil, nil, nil, []string{"x:open"}); err == nil || !strings.Contains(err.Error(), "alias x") {
		t.Fatalf("unknown alias: %v", err)
	}
}

// IPv6 values of --container-network-ip-range and -gateway go to the
// network's IPv6 settings, one of each family per network.
func TestParseContainerNetworksIPv6(t *testing.T) {
	nets, err := ParseContainerNetworks([]string{"br6:pub6"},
		[]string{"pub6:10.3.0.10-10.3.0.20", "pub6:fd00:3::10-fd00:3::20"},
		[]string{"pub6:fd00:3::1/64", "pub6:10.3.0.1/24"}, nil, nil)
	if err != nil || len(nets) != 1 || nets[0].IPRange6 != "fd00:3::10-fd00:3::20" || nets[0].Gateway6 != "fd00:3::1/64" || nets[0].Gateway != "10.3.0.1/24" {
		t.Fatalf("parse: %+v %v", nets, err)
	}
	gw, from, to, err := nets[0].Parsed6()
	if err != nil || gw.String() != "fd00:3::1/64" || from.String() != "fd00:3::10" || to.String() != "fd00:3::20" {
		t.Fatalf("Parsed6: %v %v %v %v", gw, from, to, err)
	}
	for _, c := range []struct {
		ranges, gateways []string
		want             string
	}{
		{[]string{"p:10.3.0.10-10.3.0.20", "p:fd00:3::10-fd00:3::20"}, []string{"p:10.3.0.1/24"}, "IPv6 needs both"},
		{[]string{"p:10.3.0.10-10.3.0.20", "p:fd00:4::10-fd00:4::20"}, []string{"p:10.3.0.1/24", "p:fd00:3::1/64"}, "not inside the gateway's subnet"},
		{[]string{"p:10.3.0.10-10.3.0.20", "p:fd00:3::10-fd00:3::20", "p:fd00:3::30-fd00:3::40"}, []string{"p:10.3.0.1/24", "p:fd00:3::1/64"}, "given twice"},
		{[]string{"p:10.3.0.10-10.3.0.20", "p:fd00:3::20-fd00:3::10"}, []string{"p:10.3.0.1/24", "p:fd00:3::1/64"}, "ascending"},
	} {
		if _, err := ParseContainerNetworks([]string{"brp:p"}, c.ranges, c.gateways, nil, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%v %v: %v, want %q", c.ranges, c.gateways, err, c.want)
		}
	}
	two := []ContainerNetwork{
		{Bridge: "a", Alias: "a", IPRange: "10.3.0.10-10.3.0.20", Gateway: "10.3.0.1/24", IPRange6: "fd00:3::10-fd00:3::20", Gateway6: "fd00:3::1/64"},
		{Bridge: "b", Alias: "b", IPRange: "10.4.0.10-10.4.0.20", Gateway: "10.4.0.1/24", IPRange6: "fd00:3:0:0:1::10-fd00:3:0:0:1::20", Gateway6: "fd00:3::1:0:0:1/48"},
	}
	if err := CheckContainerNetworks(two); err == nil || !strings.Contains(err.Error(), "overlapping IPv6 subnets") {
		t.Fatalf("overlapping IPv6 subnets: %v", err)
	}
}
