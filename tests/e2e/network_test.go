package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// webCmd serves "hello-from-vch" on port 80 with busybox httpd.
const webCmd = "mkdir -p /www && echo hello-from-vch > /www/index.html && exec httpd -f -p 80 -h /www"

// TestNetworking drives one VCH in its own network namespace through the
// docker CLI: lo and eth0 in the guest, the bridge network with NAT,
// publishing, bookkeeping, and nothing left after vic-machine delete.
func TestNetworking(t *testing.T) {
	pulled(t)
	v := newNetVCH(t)
	img := env.busybox
	v.must(t, "pull", img)

	t.Run("LoopbackAndNIC", func(t *testing.T) {
		// lo is up (IFF_UP) with and without a network.
		for _, args := range [][]string{{"--network", "none"}, {}} {
			r := v.docker(t, append(append([]string{"run", "--rm"}, args...), img, "sh", "-c",
				"cat /sys/class/net/lo/flags; ls /sys/class/net | tr '\\n' ' '; ip -o -4 addr show; ip route; grep -c \"^172.16.0.*$(hostname)\" /etc/hosts; true")...)
			if r.Exit != 0 || !strings.HasPrefix(r.Stdout, "0x9\n") {
				t.Fatalf("lo with %v: %s", args, r)
			}
			hasEth := strings.Contains(r.Stdout, "eth0")
			if len(args) > 0 && hasEth || len(args) == 0 && (!hasEth || !strings.Contains(r.Stdout, "172.16.0.") || !strings.Contains(r.Stdout, "default via 172.16.0.1") || !strings.HasSuffix(r.Stdout, "\n1\n")) {
				t.Fatalf("interfaces with %v: %s", args, r)
			}
		}
	})

	t.Run("AnnouncedAtBoot", func(t *testing.T) {
		// The guest sends a gratuitous ARP as its NIC comes up and the
		// bridge accepts it: the host knows the container's MAC before
		// anything is sent to it (no ARP round for the first packet to a
		// published port). An idle container sends nothing else.
		v.must(t, "run", "-d", "--name", "garp", img, "sleep", "600")
		defer v.docker(t, "rm", "-f", "garp")
		ip := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "garp"))
		mac := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.MacAddress}}", "garp"))
		poll(t, "a neighbour entry "+ip+" -> "+mac+" on the host", func() bool {
			out, err := v.ns.Run("ip", "neigh", "show", ip)
			return err == nil && strings.Contains(out, "lladdr "+mac)
		})
	})

	t.Run("PublishAndNAT", func(t *testing.T) {
		v.must(t, "run", "-d", "--name", "web", "-p", "8080:80", img, "sh", "-c", webCmd)
		defer v.docker(t, "rm", "-f", "web")
		waitFetch(t, v.ns, "http://127.0.0.1:8080/", "hello-from-vch")
		waitFetch(t, v.ns, "http://"+netHostAddr+":8080/", "hello-from-vch")
		// From the outside namespace, through the host's address.
		waitFetch(t, v.out, "http://"+netHostAddr+":8080/", "hello-from-vch")

		var ins []struct {
			NetworkSettings struct {
				IPAddress, Gateway, MacAddress string
				IPPrefixLen                    int
				Ports                          map[string][]struct{ HostIp, HostPort string }
				Networks                       map[string]struct {
					IPAMConfig                                            any
					Aliases                                               []string
					NetworkID, EndpointID, IPAddress, Gateway, MacAddress string
				}
			}
			HostConfig struct{ NetworkMode string }
		}
		if err := json.Unmarshal([]byte(v.must(t, "inspect", "web")), &ins); err != nil || len(ins) != 1 {
			t.Fatalf("inspect: %v", err)
		}
		ns := ins[0].NetworkSettings
		br, ok := ns.Networks["bridge"]
		if !strings.HasPrefix(ns.IPAddress, "172.16.0.") || ns.Gateway != "172.16.0.1" || ns.IPPrefixLen != 16 ||
			!strings.HasPrefix(ns.MacAddress, "02:42:ac:10:00:") || !ok || br.IPAddress != ns.IPAddress ||
			len(br.NetworkID) != 64 || len(br.EndpointID) != 64 || br.MacAddress != ns.MacAddress || br.Gateway != ns.Gateway {
			t.Fatalf("NetworkSettings: %+v", ns)
		}
		if p := ns.Ports["80/tcp"]; len(p) != 1 || p[0].HostIp != "0.0.0.0" || p[0].HostPort != "8080" {
			t.Fatalf("Ports: %+v", ns.Ports)
		}
		if got := strings.TrimSpace(v.must(t, "port", "web")); got != "80/tcp -> 0.0.0.0:8080" {
			t.Fatalf("docker port: %q", got)
		}
		if got := v.must(t, "ps", "--format", "{{.Ports}}", "--filter", "name=web"); !strings.Contains(got, "0.0.0.0:8080->80/tcp") {
			t.Fatalf("ps ports: %q", got)
		}
		// The container's own address answers inside the namespace too.
		waitFetch(t, v.ns, "http://"+ns.IPAddress+":80/", "hello-from-vch")

		// A taken host port: docker's text, and nothing left allocated.
		r := v.docker(t, "run", "-d", "--name", "web2", "-p", "8080:80", img, "sleep", "100")
		defer v.docker(t, "rm", "-f", "web2")
		if r.Exit == 0 || !strings.Contains(r.Stderr, "Bind for 0.0.0.0:8080 failed: port is already allocated") {
			t.Fatalf("second -p 8080: %s", r)
		}

		// Outbound: masqueraded to the host's address on the way out.
		serveRemoteAddr(t, v.out, netOutAddr+":8000")
		r = v.docker(t, "run", "--rm", img, "wget", "-q", "-O", "-", "http://"+netOutAddr+":8000/")
		if r.Exit != 0 || r.Stdout != "from="+netHostAddr+"\n" {
			t.Fatalf("outbound through NAT: %s", r)
		}
		// And to the VCH host's own address.
		serveRemoteAddr(t, v.ns, netHostAddr+":8001")
		r = v.docker(t, "run", "--rm", img, "wget", "-q", "-O", "-", "http://"+netHostAddr+":8001/")
		if r.Exit != 0 || !strings.HasPrefix(r.Stdout, "from=172.16.0.") {
			t.Fatalf("container to host: %s", r)
		}

		nets := v.must(t, "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
		if strings.TrimSpace(nets) != "bridge bridge local" {
			t.Fatalf("network ls: %q", nets)
		}
		var nis []struct {
			Name string
			IPAM struct {
				Config []struct{ Subnet, Gateway string }
			}
			Containers map[string]struct{ Name, IPv4Address string }
		}
		if err := json.Unmarshal([]byte(v.must(t, "network", "inspect", "bridge")), &nis); err != nil || len(nis) != 1 {
			t.Fatalf("network inspect: %v", err)
		}
		ni := nis[0]
		found := false
		for _, c := range ni.Containers {
			found = found || c.Name == "web" && c.IPv4Address == ns.IPAddress+"/16"
		}
		if len(ni.IPAM.Config) != 1 || ni.IPAM.Config[0].Subnet != "172.16.0.0/16" || ni.IPAM.Config[0].Gateway != "172.16.0.1" || !found {
			t.Fatalf("network inspect bridge: %+v", ni)
		}
		r = v.docker(t, "run", "--rm", "--network", "nosuch", img, "true")
		if r.Exit == 0 || !strings.Contains(r.Stderr, "network nosuch not found") {
			t.Fatalf("unknown network: %s", r)
		}
	})

	const formsCmd = "mkdir -p /www && echo forms > /www/index.html && httpd -p 90 -h /www && httpd -p 91 -h /www && httpd -p 7000 -h /www && exec httpd -f -p 80 -h /www"
	t.Run("PublishFormsStopStartRestart", func(t *testing.T) {
		v.must(t, "run", "-d", "--name", "forms", "-p", "127.0.0.1:8081:80", "-p", "80", "-p", "5353:53/udp",
			"-p", "9000-9001:90-91", "--expose", "7000", "-P", img, "sh", "-c", formsCmd)
		defer v.docker(t, "rm", "-f", "forms")
		waitFetch(t, v.ns, "http://127.0.0.1:8081/", "forms")
		if _, err := fetch(v.out, "http://"+netHostAddr+":8081/"); err == nil {
			t.Fatal("-p 127.0.0.1:8081:80 answers on the host's other address")
		}
		ports := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(v.must(t, "port", "forms")), "\n") {
			k, val, _ := strings.Cut(line, " -> ")
			ports[k] = append(ports[k], val)
		}
		if len(ports["80/tcp"]) != 2 || ports["80/tcp"][0] != "127.0.0.1:8081" && ports["80/tcp"][1] != "127.0.0.1:8081" ||
			len(ports["90/tcp"]) != 1 || ports["90/tcp"][0] != "0.0.0.0:9000" || len(ports["91/tcp"]) != 1 || ports["91/tcp"][0] != "0.0.0.0:9001" ||
			len(ports["53/udp"]) != 1 || ports["53/udp"][0] != "0.0.0.0:5353" || len(ports["7000/tcp"]) != 1 {
			t.Fatalf("docker port forms: %v", ports)
		}
		for _, hp := range append(ports["80/tcp"], ports["7000/tcp"][0], "0.0.0.0:9000", "0.0.0.0:9001") {
			_, port, _ := strings.Cut(hp, ":")
			waitFetch(t, v.ns, "http://127.0.0.1:"+port+"/", "forms")
		}
		// The UDP port is held on the host (the proxy's data path is
		// tested in portlayer/network/local).
		if err := v.ns.Do(func() error {
			c, err := net.ListenPacket("udp4", "0.0.0.0:5353")
			if err == nil {
				c.Close()
				return errors.New("udp 5353 is free while published")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ip := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "forms"))

		// stop releases the address and the ports; start takes them again.
		v.must(t, "stop", "-t", "1", "forms")
		if _, err := fetch(v.ns, "http://127.0.0.1:8081/"); err == nil {
			t.Fatal("port 8081 still served after stop")
		}
		if got := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}|{{len .NetworkSettings.Ports}}", "forms")); got != "|0" {
			t.Fatalf("stopped container's network settings: %q", got)
		}
		if n := activeLeases(t, v); n != 0 {
			t.Fatalf("%d leases after stop", n)
		}
		v.must(t, "start", "forms")
		waitFetch(t, v.ns, "http://127.0.0.1:8081/", "forms")

		// vchd restarts with the container running: the bindings come back.
		restartVCHD(t, v)
		waitFetch(t, v.ns, "http://127.0.0.1:8081/", "forms")
		waitFetch(t, v.ns, "http://127.0.0.1:9000/", "forms")
		if got := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "forms")); got != ip {
			t.Fatalf("address after vchd restart %q, before %q", got, ip)
		}
		v.must(t, "rm", "-f", "forms")
		if _, err := fetch(v.ns, "http://127.0.0.1:8081/"); err == nil {
			t.Fatal("port 8081 still served after rm")
		}
		if n := activeLeases(t, v); n != 0 {
			t.Fatalf("%d leases after rm", n)
		}
		waitFor(t, func() bool { taps, _, _ := hostNetCounts(t, v); return taps == 0 })
		if taps, bridges, rules := hostNetCounts(t, v); taps != 0 || bridges != 1 || rules != vchBaseRules {
			t.Fatalf("after rm: %d taps, %d bridges, %d rules (the bridge and its rules stay with the VCH)", taps, bridges, rules)
		}
	})

	t.Run("ExitOnItsOwnReleases", func(t *testing.T) {
		r := v.docker(t, "run", "--name", "once", "-p", "8082:80", img, "sh", "-c", "exit 3")
		defer v.docker(t, "rm", "-f", "once")
		if r.Exit != 3 {
			t.Fatalf("run: %s", r)
		}
		waitFor(t, func() bool { return activeLeases(t, v) == 0 })
		if got := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "once")); got != "" {
			t.Fatalf("exited container keeps %q", got)
		}
		// The port is free for the next container.
		v.must(t, "run", "-d", "--name", "again", "-p", "8082:80", img, "sh", "-c", webCmd)
		defer v.docker(t, "rm", "-f", "again")
		waitFetch(t, v.ns, "http://127.0.0.1:8082/", "hello-from-vch")

		// A VM that dies while vchd is down is found dead at the restart,
		// and what it held is released.
		pid := strings.TrimSpace(v.must(t, "inspect", "-f", "{{.State.Pid}}", "again"))
		stopVCHD(t, v)
		if out, err := exec.Command("kill", "-9", pid).CombinedOutput(); err != nil {
			t.Fatalf("kill VM %s: %v %s", pid, err, out)
		}
		startVCHD(t, v)
		if n := activeLeases(t, v); n != 0 {
			t.Fatalf("%d leases after a restart found the VM dead", n)
		}
		if _, err := fetch(v.ns, "http://127.0.0.1:8082/"); err == nil {
			t.Fatal("port 8082 served for a dead VM")
		}
	})

	t.Run("DeleteLeavesNothing", func(t *testing.T) {
		v.must(t, "run", "-d", "--name", "left", "-p", "8083:80", img, "sh", "-c", webCmd)
		waitFetch(t, v.ns, "http://127.0.0.1:8083/", "hello-from-vch")
		// a NIC and 3 spares; the VCH's rules and the port's DNAT rule
		if taps, bridges, rules := hostNetCounts(t, v); taps != 4 || bridges != 1 || rules != vchBaseRules+1 {
			t.Fatalf("while running: %d taps, %d bridges, %d rules", taps, bridges, rules)
		}
		if out, err := v.vicMachine("delete", "--name", v.name, "--force"); err != nil {
			t.Fatalf("vic-machine delete: %v\n%s", err, out)
		}
		awaitNothingLeft(t, "after delete", func() string {
			if taps, bridges, rules := hostNetCounts(t, v); taps != 0 || bridges != 0 || rules != 0 {
				return fmt.Sprintf("%d taps, %d bridges, %d rules", taps, bridges, rules)
			}
			save, err := v.ns.Run("iptables-save", "-t", "nat")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(save, ":VCH-") {
				return "the VCH's nat chain:\n" + save
			}
			return ""
		})
		if _, err := fetch(v.ns, "http://127.0.0.1:8083/"); err == nil {
			t.Fatal("port 8083 served after delete")
		}
		if _, err := os.Stat(v.root); !os.IsNotExist(err) {
			t.Fatalf("VCH root left: %v", err)
		}
	})
}

// vchBaseRules is how many iptables rules a VCH with only its default
// bridge holds: the bridge's masquerade and 4 forwarding rules, the 2 jumps
// into its DNAT chain for published ports and the masquerade of loopback
// connections to published ports.
const vchBaseRules = 8

// activeLeases counts the addresses the VCH's network state holds.
func activeLeases(t *testing.T, v *netVCH) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(v.root, "network", "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Endpoints map[string][]struct {
			Active   bool
			Address6 string
		}
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, eps := range st.Endpoints {
		for _, ep := range eps {
			if ep.Active || ep.Address6 != "" { // an IPv6 lease counts too
				n++
			}
		}
	}
	return n
}

// hostNetCounts counts, in the VCH's namespace, its taps (vt*), bridges
// (vchb*) and iptables and ip6tables rules (comment vch:).
func hostNetCounts(t *testing.T, v *netVCH) (taps, bridges, rules int) {
	t.Helper()
	links, err := v.ns.Run("ip", "-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(links, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		switch {
		case strings.HasPrefix(name, "vt"):
			taps++
		case strings.HasPrefix(name, "vchb"):
			bridges++
		}
	}
	for _, bin := range []string{"iptables-save", "ip6tables-save"} {
		save, err := v.ns.Run(bin)
		if err != nil {
			t.Fatal(err)
		}
		rules += strings.Count(save, "vch:")
	}
	return taps, bridges, rules
}

// stopVCHD stops v's vchd with SIGTERM as a crash-free stop would, and
// waits until it and its supervisor are gone.
func stopVCHD(t *testing.T, v *netVCH) {
	t.Helper()
	signalVCHD(t, v.root, syscall.SIGTERM)
}

func startVCHD(t *testing.T, v *netVCH) {
	t.Helper()
	if out, err := v.vicMachine("start", "--name", v.name); err != nil {
		t.Fatalf("vic-machine start: %v\n%s", err, out)
	}
}

func restartVCHD(t *testing.T, v *netVCH) {
	t.Helper()
	stopVCHD(t, v)
	startVCHD(t, v)
}
