package e2e

import (
	"strings"
	"testing"
)

// TestContainerNetworkIPv6: a container network given an IPv6 gateway and
// range (the IPv6 values of --container-network-gateway and
// --container-network-ip-range) gives its containers an IPv6 address of
// the range too (or --ip6's), reached without NAT; the firewall level
// holds over IPv6 (ip6tables); the VCH's DNS answers AAAA; vic-machine
// delete leaves no ip6tables rule or chain.
func TestContainerNetworkIPv6(t *testing.T) {
	pulled(t)
	v := newNetVCHWith(t,
		"--container-network", "cn6pub:pub6",
		"--container-network-ip-range", "pub6:10.212.1.10-10.212.1.20",
		"--container-network-ip-range", "pub6:fd00:c6::10-fd00:c6::20",
		"--container-network-gateway", "pub6:10.212.1.1/24",
		"--container-network-gateway", "pub6:fd00:c6::1/64")
	img := env.busybox
	v.must(t, "pull", img)
	got := strings.TrimSpace(v.must(t, "network", "inspect", "-f", "{{.EnableIPv6}}{{range .IPAM.Config}} {{.Subnet}} {{.Gateway}}{{end}}", "pub6"))
	if got != "true 10.212.1.0/24 10.212.1.1 fd00:c6::/64 fd00:c6::1" {
		t.Fatalf("network inspect pub6: %q", got)
	}
	v.must(t, "run", "-d", "--name", "w1", "--network", "pub6", "-p", "80:80", img, "sh", "-c", webCmd)
	v.must(t, "run", "-d", "--name", "w2", "--network", "pub6", "--ip6", "fd00:c6::15", img, "sh", "-c", webCmd)
	t.Cleanup(func() { v.docker(t, "rm", "-f", "w1", "w2") })
	f := "{{.NetworkSettings.Networks.pub6.GlobalIPv6Address}}/{{.NetworkSettings.Networks.pub6.GlobalIPv6PrefixLen}} {{.NetworkSettings.Networks.pub6.IPv6Gateway}}"
	if got := strings.TrimSpace(v.must(t, "inspect", "-f", f, "w1")); got != "fd00:c6::10/64 fd00:c6::1" {
		t.Fatalf("IPv6 of w1: %q", got)
	}
	if got := strings.TrimSpace(v.must(t, "inspect", "-f", f, "w2")); got != "fd00:c6::15/64 fd00:c6::1" {
		t.Fatalf("IPv6 of w2: %q", got)
	}
	// w1's published port 80 answers on its own IPv6 address.
	waitFetch(t, v.ns, "http://[fd00:c6::10]/", "hello-from-vch")
	// w2 serves itself on its IPv6 address, but publishes nothing: the
	// published level drops the host's connection over IPv6 too.
	poll(t, "w2 serves its own IPv6 address", func() bool {
		r := v.docker(t, "exec", "w2", "wget", "-q", "-O", "-", "http://[fd00:c6::15]/")
		return r.Exit == 0 && strings.Contains(r.Stdout, "hello-from-vch")
	})
	if got, err := fetch(v.ns, "http://[fd00:c6::15]/"); err == nil {
		t.Fatalf("the host reached w2's unpublished port over IPv6: %q", got)
	}
	// DNS: AAAA and A of w1 for a container of the network.
	r := v.docker(t, "run", "--rm", "--network", "pub6", img, "sh", "-c", "ip -6 -o addr show scope global; nslookup -type=AAAA w1; nslookup -type=A w1")
	if r.Exit != 0 || !strings.Contains(r.Stdout, "inet6 fd00:c6::11/64") || !strings.Contains(r.Stdout, "Address: fd00:c6::10\n") || !strings.Contains(r.Stdout, "Address: 10.212.1.10\n") {
		t.Fatalf("from a third container: %s", r)
	}
	// --ip6 outside the VCH's range is docker's 400.
	r = v.docker(t, "run", "--rm", "--network", "pub6", "--ip6", "fd00:c6::99", img, "true")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "no configured subnet or ip-range contain the IP address fd00:c6::99") {
		t.Fatalf("--ip6 outside the range: %s", r)
	}
	v.must(t, "rm", "-f", "w1", "w2")
	poll(t, "no leases after rm", func() bool { return activeLeases(t, v) == 0 })
	if b, err := v.vicMachine("delete", "--name", v.name, "--force"); err != nil {
		t.Fatalf("vic-machine delete: %v\n%s", err, b)
	}
	awaitNothingLeft(t, "after delete", func() string { return leftAfterDelete(t, v) })
}
