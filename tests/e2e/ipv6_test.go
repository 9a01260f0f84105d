package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestIPv6Networks: docker network create --ipv6 gives containers an IPv6
// address of the network's subnet besides their IPv4 one, reachable from
// the network's other containers and from the host; a network without a
// given subnet gets a /64 of fd00::/8; nothing is left in ip6tables after
// the networks are removed.
func TestIPv6Networks(t *testing.T) {
	pulled(t)
	v := newNetVCH(t)
	img := env.busybox
	v.must(t, "pull", img)
	v.must(t, "network", "create", "--ipv6", "--subnet", "fd00:77::/64", "v6net")
	t.Cleanup(func() { v.docker(t, "network", "rm", "v6net", "v6auto") })
	got := strings.TrimSpace(v.must(t, "network", "inspect", "-f", "{{.EnableIPv6}}{{range .IPAM.Config}} {{.Subnet}} {{.Gateway}}{{end}}", "v6net"))
	if !strings.HasPrefix(got, "true ") || !strings.HasSuffix(got, " fd00:77::/64 fd00:77::1") {
		t.Fatalf("network inspect v6net: %q", got)
	}
	v.must(t, "run", "-d", "--name", "w6", "--network", "v6net", img, "sh", "-c", webCmd)
	t.Cleanup(func() { v.docker(t, "rm", "-f", "w6") })
	got = strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.Networks.v6net.GlobalIPv6Address}}/{{.NetworkSettings.Networks.v6net.GlobalIPv6PrefixLen}} {{.NetworkSettings.Networks.v6net.IPv6Gateway}}", "w6"))
	if got != "fd00:77::2/64 fd00:77::1" {
		t.Fatalf("IPv6 of w6: %q", got)
	}
	// The host reaches it over IPv6 (the bridge holds the gateway).
	waitFetch(t, v.ns, "http://[fd00:77::2]/", "hello-from-vch")
	// Another container of the network too, with its own address and
	// default route.
	r := v.docker(t, "run", "--rm", "--network", "v6net", img, "sh", "-c",
		"ip -6 -o addr show scope global; ip -6 route show default; nslookup -type=AAAA w6; nslookup -type=A w6; wget -q -O - http://[fd00:77::2]/")
	if r.Exit != 0 || !strings.Contains(r.Stdout, "inet6 fd00:77::3/64") || !strings.Contains(r.Stdout, "default via fd00:77::1") ||
		!strings.HasSuffix(r.Stdout, "hello-from-vch\n") {
		t.Fatalf("from a second container: %s", r)
	}
	// The network's DNS answers AAAA with w6's IPv6 address, and A with
	// its IPv4 address only.
	ip4 := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.Networks.v6net.IPAddress}}", "w6"))
	if strings.Count(r.Stdout, "Address: fd00:77::2\n") != 1 || strings.Count(r.Stdout, "Address: "+ip4+"\n") != 1 {
		t.Fatalf("AAAA/A of w6: %s", r)
	}
	// --ip6 gives that address; one outside the subnet is refused.
	r = v.docker(t, "run", "--rm", "--network", "v6net", "--ip6", "fd00:77::50", img, "sh", "-c",
		"ip -6 -o addr show scope global; wget -q -O - http://[fd00:77::2]/")
	if r.Exit != 0 || !strings.Contains(r.Stdout, "inet6 fd00:77::50/64") || !strings.HasSuffix(r.Stdout, "hello-from-vch\n") {
		t.Fatalf("--ip6 fd00:77::50: %s", r)
	}
	r = v.docker(t, "run", "--rm", "--network", "v6net", "--ip6", "fd00:78::5", img, "true")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "no configured subnet or ip-range contain the IP address fd00:78::5") {
		t.Fatalf("--ip6 outside the subnet: %s", r)
	}

	v.must(t, "network", "create", "--ipv6", "v6auto")
	got = strings.TrimSpace(v.must(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", "v6auto"))
	if f := strings.Fields(got); len(f) != 2 || !strings.HasPrefix(f[1], "fd") || !strings.HasSuffix(f[1], "::/64") {
		t.Fatalf("v6auto subnets: %q", got)
	}
	// Isolation holds for IPv6 too.
	r = v.docker(t, "run", "--rm", "--network", "v6auto", img, "sh", "-c", "timeout -s KILL 10 wget -q -O - http://[fd00:77::2]/ && echo REACHED")
	if strings.Contains(r.Stdout, "REACHED") {
		t.Fatalf("v6auto reaches v6net: %s", r)
	}

	v.must(t, "rm", "-f", "w6")
	v.must(t, "network", "rm", "v6net", "v6auto")
	save, err := v.ns.Run("ip6tables-save")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(save, "vch:"); n != 0 {
		t.Fatalf("%d ip6tables rules left:\n%s", n, save)
	}
}

// TestIPv6Bridge: vic-machine --bridge-network-ipv6-range gives containers
// on the default bridge an IPv6 address and gateway (inspect shows them),
// they reach each other and the host over IPv6, outbound IPv6 is
// masqueraded (ip6tables), and vic-machine delete leaves no ip6tables rule
// and no IPv6 address of the bridge.
func TestIPv6Bridge(t *testing.T) {
	pulled(t)
	v := newNetVCH(t, "--bridge-network-ipv6-range", "fd00:b1::/64")
	img := env.busybox
	v.must(t, "pull", img)
	// IPv6 between the VCH's namespace and the outside one.
	for _, args := range [][]string{
		{"-n", v.ns.Name, "addr", "add", "fd99::1/64", "dev", "vh0", "nodad"},
		{"-n", v.out.Name, "addr", "add", "fd99::2/64", "dev", "vo0", "nodad"},
	} {
		if b, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, b)
		}
	}
	got := strings.TrimSpace(v.must(t, "network", "inspect", "-f", "{{.EnableIPv6}}{{range .IPAM.Config}} {{.Subnet}} {{.Gateway}}{{end}}", "bridge"))
	if !strings.HasPrefix(got, "true ") || !strings.HasSuffix(got, " fd00:b1::/64 fd00:b1::1") {
		t.Fatalf("network inspect bridge: %q", got)
	}
	v.must(t, "run", "-d", "--name", "b6", img, "sh", "-c", webCmd)
	t.Cleanup(func() { v.docker(t, "rm", "-f", "b6") })
	for _, f := range []string{
		"{{.NetworkSettings.GlobalIPv6Address}}/{{.NetworkSettings.GlobalIPv6PrefixLen}} {{.NetworkSettings.IPv6Gateway}}",
		"{{.NetworkSettings.Networks.bridge.GlobalIPv6Address}}/{{.NetworkSettings.Networks.bridge.GlobalIPv6PrefixLen}} {{.NetworkSettings.Networks.bridge.IPv6Gateway}}",
	} {
		if got := strings.TrimSpace(v.must(t, "inspect", "-f", f, "b6")); got != "fd00:b1::2/64 fd00:b1::1" {
			t.Fatalf("inspect %s: %q", f, got)
		}
	}
	waitFetch(t, v.ns, "http://[fd00:b1::2]/", "hello-from-vch")
	serveRemoteAddr(t, v.out, "[fd99::2]:8000")
	r := v.docker(t, "run", "--rm", img, "sh", "-c",
		"ip -6 -o addr show scope global; ip -6 route show default; wget -q -O - http://[fd99::2]:8000/; wget -q -O - http://[fd00:b1::2]/")
	if r.Exit != 0 || !strings.Contains(r.Stdout, "inet6 fd00:b1::3/64") || !strings.Contains(r.Stdout, "default via fd00:b1::1") ||
		!strings.Contains(r.Stdout, "from=fd99::1\n") || !strings.HasSuffix(r.Stdout, "hello-from-vch\n") {
		t.Fatalf("from a second container (outbound IPv6 masqueraded to fd99::1): %s", r)
	}
	// --ip6 on the default bridge is docker's 400, as --ip there.
	r = v.docker(t, "run", "--rm", "--ip6", "fd00:b1::50", img, "true")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "user specified IP address is supported on user defined networks only") {
		t.Fatalf("--ip6 on bridge: %s", r)
	}
	// vchd restarts with b6 running: b6 keeps its IPv6 address (the
	// lease is re-claimed, the next container gets ::3 again).
	taps0, bridges0, rules0, chains0 := hostLeftovers(t, v)
	restartVCHD(t, v)
	if taps, bridges, rules, chains := hostLeftovers(t, v); taps != taps0 || bridges != bridges0 || rules != rules0 || chains != chains0 {
		t.Fatalf("after the restart: %d taps, %d bridges, %d rules, %d chains (before: %d %d %d %d)", taps, bridges, rules, chains, taps0, bridges0, rules0, chains0)
	}
	waitFetch(t, v.ns, "http://[fd00:b1::2]/", "hello-from-vch")
	r = v.docker(t, "run", "--rm", img, "sh", "-c", "ip -6 -o addr show scope global; wget -q -O - http://[fd00:b1::2]/")
	if r.Exit != 0 || !strings.Contains(r.Stdout, "inet6 fd00:b1::3/64") || !strings.HasSuffix(r.Stdout, "hello-from-vch\n") {
		t.Fatalf("after the restart: %s", r)
	}
	v.must(t, "rm", "-f", "b6")
	// Nothing but the bridge's own rules is left: no lease, no tap.
	poll(t, "no taps and no leases after rm", func() bool {
		taps, _, _, _ := hostLeftovers(t, v)
		return taps == 0 && activeLeases(t, v) == 0
	})
	if _, bridges, rules, chains := hostLeftovers(t, v); bridges != bridges0 || rules != rules0 || chains != chains0 {
		t.Fatalf("after rm: %d bridges, %d rules, %d chains (before: %d %d %d)", bridges, rules, chains, bridges0, rules0, chains0)
	}
	if b, err := v.vicMachine("delete", "--name", v.name, "--force"); err != nil {
		t.Fatalf("vic-machine delete: %v\n%s", err, b)
	}
	awaitNothingLeft(t, "after delete", func() string {
		save, err := v.ns.Run("ip6tables-save")
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(save, "vch:"); n != 0 {
			return fmt.Sprintf("%d ip6tables rules:\n%s", n, save)
		}
		if l := leftAfterDelete(t, v); l != "" {
			return l
		}
		addrs, err := v.ns.Run("ip", "-6", "-o", "addr")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(addrs, "fd00:b1") {
			return "an IPv6 address of the VCH:\n" + addrs
		}
		return ""
	})
}
