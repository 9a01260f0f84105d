package e2e

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/vchproject/vch/tests/fixture"
)

// TestUserNetworks drives user-defined networks through the docker CLI in
// a VCH of its own namespace: create/ls/inspect/rm/prune with their
// options and filters, --network, --ip, --network-alias, the embedded DNS,
// isolation between networks, bad input, and a vchd restart.
func TestUserNetworks(t *testing.T) {
	pulled(t)
	v := newNetVCH(t)
	img := env.busybox
	v.must(t, "pull", img)

	t.Run("CreateListInspect", func(t *testing.T) {
		v.must(t, "network", "create", "--subnet", "10.88.0.0/24", "--gateway", "10.88.0.254", "--ip-range", "10.88.0.128/25", "--label", "team=a", "front")
		v.must(t, "network", "create", "back")
		v.must(t, "network", "create", "--internal", "--label", "team=b", "priv")
		ls := func(args ...string) string {
			return strings.Join(strings.Fields(v.must(t, append([]string{"network", "ls", "--format", "{{.Name}}"}, args...)...)), " ")
		}
		for _, tc := range []struct {
			args []string
			want string
		}{
			{nil, "bridge front back priv"},
			{[]string{"--filter", "label=team=a"}, "front"},
			{[]string{"--filter", "label=team"}, "front priv"},
			{[]string{"--filter", "type=custom"}, "front back priv"},
			{[]string{"--filter", "type=builtin"}, "bridge"},
			{[]string{"--filter", "dangling=true"}, "front back priv"},
			{[]string{"--filter", "name=fro"}, "front"},
			{[]string{"--filter", "driver=bridge", "--filter", "name=back"}, "back"},
		} {
			if got := ls(tc.args...); !sameSet(got, tc.want) {
				t.Errorf("network ls %v: %q, want %q", tc.args, got, tc.want)
			}
		}
		var nis []struct {
			Name, Id, Driver string
			Internal         bool
			Labels           map[string]string
			IPAM             struct {
				Config []struct{ Subnet, Gateway, IPRange string }
			}
		}
		if err := json.Unmarshal([]byte(v.must(t, "network", "inspect", "front", "priv", "back")), &nis); err != nil || len(nis) != 3 {
			t.Fatalf("network inspect: %v", err)
		}
		f, p, b := nis[0], nis[1], nis[2]
		if len(f.IPAM.Config) != 1 || f.IPAM.Config[0] != (struct{ Subnet, Gateway, IPRange string }{"10.88.0.0/24", "10.88.0.254", "10.88.0.128/25"}) ||
			f.Labels["team"] != "a" || f.Internal || f.Driver != "bridge" || len(f.Id) != 64 {
			t.Fatalf("inspect front: %+v", f)
		}
		if !p.Internal || len(b.IPAM.Config) != 1 || !strings.HasSuffix(b.IPAM.Config[0].Subnet, ".0.0/16") || b.IPAM.Config[0].Subnet == "172.16.0.0/16" {
			t.Fatalf("inspect priv %+v, back %+v", p, b)
		}
	})

	t.Run("BadInputLeavesNothing", func(t *testing.T) {
		before := v.must(t, "network", "ls", "-q")
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"network", "create", "front"}, "network with name front already exists"},
			{[]string{"network", "create", "--subnet", "10.88.0.0/16", "over"}, "Pool overlaps with other one on this address space"},
			// The CLI checks these itself (the daemon's checks are in
			// backends/network and portlayer/network/networktest).
			{[]string{"network", "create", "--subnet", "10.90.0.0/24", "--gateway", "10.91.0.1", "gw"}, "no matching subnet for gateway 10.91.0.1"},
			{[]string{"network", "create", "--subnet", "10.90.0.0/24", "--ip-range", "10.91.0.0/25", "rg"}, "no matching subnet for range 10.91.0.0/25"},
			{[]string{"network", "rm", "bridge"}, "bridge is a pre-defined network and cannot be removed"},
			{[]string{"network", "rm", "nosuch"}, "network nosuch not found"},
			{[]string{"run", "--rm", "--network", "nosuch", img, "true"}, "network nosuch not found"},
			{[]string{"run", "--rm", "--ip", "172.16.9.9", img, "true"}, "user specified IP address is supported on user defined networks only"},
			{[]string{"run", "--rm", "--network", "back", "--ip", "10.92.0.9", img, "true"}, "user specified IP address is supported only when connecting to networks with user configured subnets"},
			{[]string{"run", "--rm", "--network", "front", "--ip", "10.99.0.9", img, "true"}, "no configured subnet or ip-range contain the IP address 10.99.0.9"},
			{[]string{"run", "--rm", "--network-alias", "x", img, "true"}, "network-scoped alias"},
		} {
			r := v.docker(t, tc.args...)
			if r.Exit == 0 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("docker %v: %s\nwant %q", tc.args, r, tc.want)
			}
		}
		if after := v.must(t, "network", "ls", "-q"); after != before {
			t.Fatalf("networks before %q, after %q", before, after)
		}
		if n := len(strings.Fields(v.must(t, "ps", "-aq"))); n != 0 {
			t.Fatalf("%d containers left by refused runs", n)
		}
	})

	t.Run("DNSStaticAliasIsolation", func(t *testing.T) {
		v.must(t, "run", "-d", "--name", "web", "--network", "front", "--network-alias", "www", img, "sh", "-c", webCmd)
		defer v.docker(t, "rm", "-f", "web")
		v.must(t, "run", "-d", "--name", "st", "--network", "front", "--ip", "10.88.0.10", img, "sleep", "1000")
		defer v.docker(t, "rm", "-f", "st")
		webIP := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.Networks.front.IPAddress}} {{.NetworkSettings.Networks.front.Gateway}} {{.NetworkSettings.Networks.front.Aliases}}", "web"))
		if !strings.HasPrefix(webIP, "10.88.0.128 10.88.0.254 [www]") {
			t.Fatalf("web on front: %q", webIP)
		}
		webIP = strings.Fields(webIP)[0]
		if got := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.Networks.front.IPAddress}}", "st")); got != "10.88.0.10" {
			t.Fatalf("static address: %q", got)
		}
		webID := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.Id}}", "web"))[:12]

		// The embedded DNS answers names, aliases and short IDs on front.
		r := v.docker(t, "run", "--rm", "--network", "front", img, "sh", "-c",
			"cat /etc/resolv.conf; for n in web www "+webID+" st; do nslookup -type=a $n; done; wget -q -O - http://"+webIP+"/")
		if r.Exit != 0 || !strings.Contains(r.Stdout, "nameserver 10.88.0.254\n") || strings.Count(r.Stdout, "Address: "+webIP+"\n") != 3 ||
			!strings.Contains(r.Stdout, "Address: 10.88.0.10\n") || !strings.HasSuffix(r.Stdout, "hello-from-vch\n") {
			t.Fatalf("DNS on front: %s", r)
		}
		// --dns: resolv.conf still names the network's DNS, which answers
		// container names and forwards the rest to the container's server
		// (one in the outside namespace that knows ext.test).
		serveDNS(t, v.out, netOutAddr+":53", "ext.test.", "192.0.2.77")
		r = v.docker(t, "run", "--rm", "--network", "front", "--dns", netOutAddr, img, "sh", "-c",
			"cat /etc/resolv.conf; nslookup -type=a web; nslookup -type=a ext.test")
		if !strings.Contains(r.Stdout, "nameserver 10.88.0.254\n") || strings.Contains(r.Stdout, "nameserver "+netOutAddr) ||
			!strings.Contains(r.Stdout, "Address: "+webIP+"\n") || !strings.Contains(r.Stdout, "Address: 192.0.2.77\n") {
			t.Fatalf("--dns on front: %s", r)
		}
		// The default bridge: its DNS forwards only (no container names);
		// --dns there goes to resolv.conf as given, as docker does.
		r = v.docker(t, "run", "--rm", img, "sh", "-c", "cat /etc/resolv.conf; nslookup -type=a web")
		if !strings.Contains(r.Stdout, "nameserver 172.16.0.1\n") || strings.Contains(r.Stdout, webIP) {
			t.Fatalf("DNS on the bridge: %s", r)
		}
		r = v.docker(t, "run", "--rm", "--dns", netOutAddr, img, "sh", "-c", "cat /etc/resolv.conf; nslookup -type=a ext.test")
		if r.Exit != 0 || !strings.HasPrefix(r.Stdout, "nameserver "+netOutAddr+"\n") || !strings.Contains(r.Stdout, "Address: 192.0.2.77\n") {
			t.Fatalf("--dns on the bridge: %s", r)
		}
		// From another network: neither the name nor the address.
		r = v.docker(t, "run", "--rm", "--network", "back", img, "sh", "-c",
			"nslookup -type=a web; echo; timeout -s KILL 10 wget -q -O - http://"+webIP+"/ && echo REACHED")
		if strings.Contains(r.Stdout, webIP) || strings.Contains(r.Stdout, "REACHED") {
			t.Fatalf("back reaches front: %s", r)
		}
		// Nor from the default bridge.
		r = v.docker(t, "run", "--rm", img, "sh", "-c", "timeout -s KILL 10 wget -q -O - http://"+webIP+"/ && echo REACHED")
		if strings.Contains(r.Stdout, "REACHED") {
			t.Fatalf("bridge reaches front: %s", r)
		}
		// The static address is taken: docker's text, nothing kept.
		r = v.docker(t, "run", "-d", "--name", "st2", "--network", "front", "--ip", "10.88.0.10", img, "sleep", "1000")
		defer v.docker(t, "rm", "-f", "st2")
		if r.Exit == 0 || !strings.Contains(r.Stderr, "Address already in use") {
			t.Fatalf("taken static address: %s", r)
		}
		// A used network cannot be removed.
		if r := v.docker(t, "network", "rm", "front"); r.Exit == 0 || !strings.Contains(r.Stderr, "has active endpoints") {
			t.Fatalf("rm of a used network: %s", r)
		}

		// vchd restarts: the networks, the running containers' addresses
		// and the DNS come back.
		restartVCHD(t, v)
		if got := v.must(t, "network", "ls", "--format", "{{.Name}}", "--filter", "type=custom"); !sameSet(strings.Join(strings.Fields(got), " "), "front back priv") {
			t.Fatalf("networks after restart: %q", got)
		}
		r = v.docker(t, "run", "--rm", "--network", "front", img, "nslookup", "-type=a", "www")
		if !strings.Contains(r.Stdout, "Address: "+webIP+"\n") {
			t.Fatalf("DNS after restart: %s", r)
		}
	})

	t.Run("InternalAndExhausted", func(t *testing.T) {
		serveRemoteAddr(t, v.out, netOutAddr+":8010")
		r := v.docker(t, "run", "--rm", "--network", "priv", img, "sh", "-c", "timeout -s KILL 10 wget -q -O - http://"+netOutAddr+":8010/ && echo REACHED")
		if strings.Contains(r.Stdout, "REACHED") {
			t.Fatalf("internal network reaches outside: %s", r)
		}
		r = v.docker(t, "run", "--rm", "--network", "back", img, "wget", "-q", "-O", "-", "http://"+netOutAddr+":8010/")
		if r.Exit != 0 || r.Stdout != "from="+netHostAddr+"\n" {
			t.Fatalf("back through NAT: %s", r)
		}
		// One dynamic address (10.89.0.6; .7 is the broadcast address).
		v.must(t, "network", "create", "--subnet", "10.89.0.0/29", "--ip-range", "10.89.0.6/31", "tiny")
		// t1 keeps tiny's only address for ConnectDisconnect; RemoveAndPrune
		// removes it.
		v.must(t, "run", "-d", "--name", "t1", "--network", "tiny", img, "sleep", "1000")
		r = v.docker(t, "run", "-d", "--name", "t2", "--network", "tiny", img, "sleep", "1000")
		defer v.docker(t, "rm", "-f", "t2")
		if r.Exit == 0 || !strings.Contains(r.Stderr, "no available IPv4 addresses") {
			t.Fatalf("exhausted range: %s", r)
		}
		if n := activeLeases(t, v); n != 1 {
			t.Fatalf("%d leases with one container running", n)
		}
	})

	t.Run("ConnectDisconnect", func(t *testing.T) {
		v.must(t, "create", "--name", "cx", "--network", "back", img, "sleep", "1000")
		defer v.docker(t, "rm", "-f", "cx")
		v.must(t, "network", "connect", "--alias", "cxa", "front", "cx")
		if r := v.docker(t, "network", "connect", "front", "cx"); r.Exit == 0 || !strings.Contains(r.Stderr, "endpoint with name cx already exists in network front") {
			t.Fatalf("connect twice: %s", r)
		}
		v.must(t, "start", "cx")
		ips := strings.Fields(v.must(t, "inspect", "-f", "{{.NetworkSettings.Networks.back.IPAddress}} {{.NetworkSettings.Networks.front.IPAddress}}", "cx"))
		if len(ips) != 2 || !strings.HasPrefix(ips[1], "10.88.0.") {
			t.Fatalf("cx addresses %v", ips)
		}
		// Both NICs are up in the guest, and front's DNS knows the alias.
		r := v.docker(t, "run", "--rm", "--network", "front", img, "sh", "-c", "nslookup -type=a cxa; ping -c 1 -W 5 "+ips[1])
		if r.Exit != 0 || !strings.Contains(r.Stdout, "Address: "+ips[1]+"\n") {
			t.Fatalf("cx on front: %s", r)
		}
		// Running: a spare NIC joins priv, the tether configures it and
		// priv's DNS knows the alias.
		v.must(t, "network", "connect", "--alias", "cxp", "priv", "cx")
		pip := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.Networks.priv.IPAddress}}", "cx"))
		if pip == "" {
			t.Fatal("no address on priv after connect")
		}
		if out := v.must(t, "exec", "cx", "ip", "-o", "-4", "addr", "show"); !strings.Contains(out, " "+pip+"/") {
			t.Fatalf("guest addresses after connect: %s", out)
		}
		r = v.docker(t, "run", "--rm", "--network", "priv", img, "sh", "-c", "nslookup -type=a cxp; ping -c 1 -W 5 "+pip)
		if r.Exit != 0 || !strings.Contains(r.Stdout, "Address: "+pip+"\n") {
			t.Fatalf("cx on priv: %s", r)
		}
		// An exhausted range refuses and leaves nothing.
		if r := v.docker(t, "network", "connect", "tiny", "cx"); r.Exit == 0 || !strings.Contains(r.Stderr, "no available IPv4 addresses") {
			t.Fatalf("connect to an exhausted network: %s", r)
		}
		if got := strings.TrimSpace(v.must(t, "inspect", "-f", "{{len .NetworkSettings.Networks}}", "cx")); got != "3" {
			t.Fatalf("networks after a refused connect: %s", got)
		}
		// Four networks at most.
		v.must(t, "network", "create", "n4")
		v.must(t, "network", "create", "n5")
		v.must(t, "network", "connect", "n4", "cx")
		if r := v.docker(t, "network", "connect", "n5", "cx"); r.Exit == 0 || !strings.Contains(r.Stderr, "at most 4 networks") {
			t.Fatalf("a fifth network: %s", r)
		}
		// Disconnect while running parks the spare NIC again.
		v.must(t, "network", "disconnect", "priv", "cx")
		if out := v.must(t, "exec", "cx", "ip", "-o", "-4", "addr", "show"); strings.Contains(out, " "+pip+"/") {
			t.Fatalf("guest addresses after disconnect: %s", out)
		}
		// A network the VM booted on stays until it stops.
		if r := v.docker(t, "network", "disconnect", "front", "cx"); r.Exit == 0 || !strings.Contains(r.Stderr, "stop it first") {
			t.Fatalf("disconnect running: %s", r)
		}
		v.must(t, "stop", "-t", "1", "cx")
		v.must(t, "network", "disconnect", "front", "cx")
		if r := v.docker(t, "network", "disconnect", "front", "cx"); r.Exit == 0 || !strings.Contains(r.Stderr, "is not connected to network front") {
			t.Fatalf("disconnect twice: %s", r)
		}
		if got := strings.TrimSpace(v.must(t, "inspect", "-f", "{{len .NetworkSettings.Networks}}", "cx")); got != "2" {
			t.Fatalf("networks after disconnect (back, n4): %s", got)
		}
	})

	t.Run("RemoveAndPrune", func(t *testing.T) {
		v.docker(t, "rm", "-f", "t1", "t2", "cx")
		v.must(t, "network", "rm", "tiny")
		if got := strings.TrimSpace(v.must(t, "network", "prune", "-f", "--filter", "label=team=b")); !strings.Contains(got, "priv") || strings.Contains(got, "front") {
			t.Fatalf("prune by label: %q", got)
		}
		got := v.must(t, "network", "prune", "-f")
		if !strings.Contains(got, "front") || !strings.Contains(got, "back") {
			t.Fatalf("prune: %q", got)
		}
		if got := strings.TrimSpace(v.must(t, "network", "ls", "--format", "{{.Name}}")); got != "bridge" {
			t.Fatalf("after prune: %q", got)
		}
		waitFor(t, func() bool { taps, _, _ := hostNetCounts(t, v); return taps == 0 })
		if taps, bridges, rules := hostNetCounts(t, v); taps != 0 || bridges != 1 || rules != vchBaseRules {
			t.Fatalf("after prune: %d taps, %d bridges, %d rules", taps, bridges, rules)
		}
		if out, _ := v.ns.Run("ip", "-o", "link", "show"); strings.Contains(out, ": vchn") {
			t.Fatalf("user network bridges left:\n%s", out)
		}
	})
}

// serveDNS answers A queries for name with addr, inside ns, on UDP addr.
func serveDNS(t *testing.T, ns *fixture.Netns, at, name, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := ns.Do(func() (err error) { pc, err = net.ListenPacket("udp4", at); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		if q := req.Question; len(q) == 1 && q[0].Name == name && q[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(addr)})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
}

// sameSet compares space-separated words, ignoring order.
func sameSet(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	if len(x) != len(y) {
		return false
	}
	seen := map[string]int{}
	for _, w := range x {
		seen[w]++
	}
	for _, w := range y {
		seen[w]--
		if seen[w] < 0 {
			return false
		}
	}
	return true
}
