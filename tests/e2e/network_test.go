package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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
				"cat /sys/class/net/lo/flags; ls /sys/class/net | tr '\\n' ' '; ip -o -4 addr show; ip route")...)
			if r.Exit != 0 || !strings.HasPrefix(r.Stdout, "0x9\n") {
				t.Fatalf("lo with %v: %s", args, r)
			}
			hasEth := strings.Contains(r.Stdout, "eth0")
			if len(args) > 0 && hasEth || len(args) == 0 && (!hasEth || !strings.Contains(r.Stdout, "172.16.0.") || !strings.Contains(r.Stdout, "default via 172.16.0.1")) {
				t.Fatalf("interfaces with %v: %s", args, r)
			}
		}
	})

	const webCmd = "mkdir -p /www && echo hello-from-vch > /www/index.html && exec httpd -f -p 80 -h /www"
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
					IPAMConfig                                          any
					Aliases                                             []string
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
			Name       string
			IPAM       struct{ Config []struct{ Subnet, Gateway string } }
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
	_ = json.Marshal
	_ = os.Stat
	_ = exec.Command
	_ = filepath.Join
}
