package e2e

import (
	"strings"
	"testing"
)

// TestContainerNetworkDNS: on container networks ("Direct") the VCH's DNS
// (on the host's address on the bridge, here the gateway of a bridge
// vic-machine made) answers the names, short IDs and --network-alias of
// the network's containers, only to containers that share the network,
// forwards other names to the network's --container-network-dns, and
// works at the peers firewall level too.
func TestContainerNetworkDNS(t *testing.T) {
	pulled(t)
	v := newNetVCHWith(t,
		"--container-network", "cndpub:public",
		"--container-network-ip-range", "public:10.211.1.10-10.211.1.20",
		"--container-network-gateway", "public:10.211.1.1/24",
		"--container-network-dns", "public:"+netOutAddr,
		"--container-network", "cndpeer:peers",
		"--container-network-ip-range", "peers:10.211.2.10-10.211.2.20",
		"--container-network-gateway", "peers:10.211.2.1/24",
		"--container-network-firewall", "peers:peers")
	img := env.busybox
	v.must(t, "pull", img)
	serveDNS(t, v.out, netOutAddr+":53", "ext.test.", "192.0.2.77")

	v.must(t, "run", "-d", "--name", "d1", "--network", "public", "--network-alias", "web1", img, "sleep", "1000")
	v.must(t, "run", "-d", "--name", "p1", "--network", "peers", img, "sleep", "1000")
	t.Cleanup(func() { v.docker(t, "rm", "-f", "d1", "p1") })
	d1 := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.Networks.public.IPAddress}} {{.Id}} {{.NetworkSettings.Networks.public.Aliases}}", "d1"))
	f := strings.Fields(d1)
	if len(f) < 3 || !strings.HasPrefix(f[0], "10.211.1.") || !strings.Contains(d1, "web1") {
		t.Fatalf("inspect d1: %q", d1)
	}
	ip, short := f[0], f[1][:12]
	p1 := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.Networks.peers.IPAddress}}", "p1"))

	// One query per nslookup (-type=a), as the other DNS tests do. Given
	// no type, busybox's nslookup sends A and AAAA together and matches
	// a reply to its query by the 16-bit ID alone. In one CI run the
	// second reply of every pair was dropped, its resend's too, as when
	// both queries carry one ID; when the AAAA reply overtook the A one,
	// web1 showed no address at all.
	r := v.docker(t, "run", "--rm", "--network", "public", img, "sh", "-c",
		"cat /etc/resolv.conf; nslookup -type=a d1; nslookup -type=a web1; nslookup -type=a "+short+"; nslookup -type=a ext.test; nslookup -type=a p1 || echo NO-P1")
	if r.Exit != 0 || !strings.Contains(r.Stdout, "nameserver 10.211.1.1\n") || strings.Count(r.Stdout, "Address: "+ip+"\n") != 3 ||
		!strings.Contains(r.Stdout, "Address: 192.0.2.77\n") || strings.Contains(r.Stdout, "Address: "+p1+"\n") || !strings.Contains(r.Stdout, "NO-P1") {
		t.Fatalf("names from a container on public: %s", r)
	}
	// peers: the DNS is reachable through the level's firewall; d1 is on
	// a network this container does not share.
	r = v.docker(t, "run", "--rm", "--network", "peers", img, "sh", "-c",
		"cat /etc/resolv.conf; nslookup -type=a p1; nslookup -type=a d1 || echo NO-D1")
	if r.Exit != 0 || !strings.Contains(r.Stdout, "nameserver 10.211.2.1\n") || !strings.Contains(r.Stdout, "Address: "+p1+"\n") ||
		strings.Contains(r.Stdout, "Address: "+ip+"\n") || !strings.Contains(r.Stdout, "NO-D1") {
		t.Fatalf("names from a container on peers: %s", r)
	}
	// --dns bypasses the VCH's DNS, as on other networks.
	r = v.docker(t, "run", "--rm", "--network", "public", "--dns", netOutAddr, img, "cat", "/etc/resolv.conf")
	if r.Exit != 0 || !strings.HasPrefix(r.Stdout, "nameserver "+netOutAddr+"\n") {
		t.Fatalf("--dns on public: %s", r)
	}
}
