package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/tests/fixture"
)

// The container networks of TestContainerNetworks: alias, bridge, /24 and
// firewall level ("" is the default, published).
var containerNets = []struct{ alias, bridge, net, level string }{
	{"public", "cnpub", "10.210.1", ""},
	{"open", "cnopen", "10.210.2", "open"},
	{"outbound", "cnout", "10.210.3", "outbound"},
	{"peers", "cnpeers", "10.210.4", "peers"},
	{"closed", "cnclosed", "10.210.5", "closed"},
}

// hostPort is where the VCH's namespace serves the client's address,
// on every address (containers reach it on their network's gateway).
const hostPort = "18090"

// twoWebs serves hello-NAME on ports 80 and 8081 with busybox httpd.
func twoWebs(name string) string {
	return "mkdir -p /www && echo hello-" + name + " > /www/index.html && httpd -p 80 -h /www && exec httpd -f -p 8081 -h /www"
}

// TestContainerNetworks drives VIC's container ("Direct") networks: made
// by vic-machine create --container-network*, listed by docker network ls,
// containers reached on their own addresses without NAT, each firewall
// level's observable behaviour, the seed slides' nginx demo verbatim, and
// nothing left on the host after vic-machine delete.
func TestContainerNetworks(t *testing.T) {
	pulled(t)
	var args []string
	for _, n := range containerNets {
		args = append(args, "--container-network", n.bridge+":"+n.alias,
			"--container-network-ip-range", n.alias+":"+n.net+".10-"+n.net+".20",
			"--container-network-gateway", n.alias+":"+n.net+".1/24")
		if n.level != "" {
			args = append(args, "--container-network-firewall", n.alias+":"+n.level)
		}
	}
	args = append(args, "--container-network-dns", "public:10.210.1.1")
	v := newNetVCHWith(t, args...)
	img := env.busybox
	v.must(t, "pull", img)
	serveRemoteAddr(t, v.ns, "0.0.0.0:"+hostPort)

	ipOf := func(t *testing.T, name, net string) string {
		t.Helper()
		return strings.TrimSpace(v.must(t, "inspect", "-f", `{{(index .NetworkSettings.Networks "`+net+`").IPAddress}}`, name))
	}
	// up waits until the container serves ports 80 and 8081 (started
	// second) to itself.
	up := func(t *testing.T, name string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			r := v.docker(t, "exec", name, "sh", "-c", "wget -q -O- http://127.0.0.1:80/ && wget -q -O- http://127.0.0.1:8081/")
			if r.Exit == 0 && strings.Count(r.Stdout, "hello-") == 2 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not serve ports 80 and 8081 to itself: %s", name, r)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	// hostGets: the VCH's host reaches url (true) or not.
	hostGets := func(url string) bool {
		got, err := fetch(v.ns, url)
		return err == nil && strings.Contains(got, "hello-")
	}
	// containerGets: the container reaches url with want in the answer
	// (a dropped connection hangs until timeout kills wget; busybox
	// 1.35's wget -T crashes).
	containerGets := func(t *testing.T, name, url, want string) bool {
		t.Helper()
		r := v.docker(t, "exec", name, "timeout", "-s", "KILL", "15", "wget", "-q", "-O-", url)
		return r.Exit == 0 && strings.Contains(r.Stdout, want)
	}
	web := func(t *testing.T, name, net string, runArgs ...string) string {
		t.Helper()
		v.must(t, append(append([]string{"run", "-d", "--name", name, "--network", net}, runArgs...), img, "sh", "-c", twoWebs(name))...)
		t.Cleanup(func() { v.docker(t, "rm", "-f", name) })
		up(t, name)
		return ipOf(t, name, net)
	}

	t.Run("List", func(t *testing.T) {
		out := v.must(t, "network", "ls", "--format", "{{.Name}} {{.Driver}}")
		for _, n := range containerNets {
			if !strings.Contains(out, n.alias+" external\n") {
				t.Fatalf("network ls lacks %s:\n%s", n.alias, out)
			}
		}
		if !strings.Contains(out, "bridge bridge\n") {
			t.Fatalf("network ls lacks bridge:\n%s", out)
		}
		got := v.must(t, "network", "inspect", "-f", `{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{index .Options "vch.container-network.firewall"}}`, "public")
		if strings.TrimSpace(got) != "10.210.1.0/24 10.210.1.1 published" {
			t.Fatalf("network inspect public: %q", got)
		}
		if r := v.docker(t, "network", "rm", "public"); r.Exit == 0 || !strings.Contains(r.Stderr, "pre-defined network") {
			t.Fatalf("network rm public: %s", r)
		}
	})

	t.Run("Published", func(t *testing.T) {
		ip := web(t, "pub1", "public", "-p", "80:80")
		if !strings.HasPrefix(ip, "10.210.1.") {
			t.Fatalf("address on public: %q", ip)
		}
		// No NAT: the container's own address answers, on the published
		// port only.
		if !hostGets("http://" + ip + ":80/") {
			t.Fatal("published port 80 not reachable on the container's address")
		}
		if hostGets("http://" + ip + ":8081/") {
			t.Fatal("unpublished port 8081 reachable at firewall level published")
		}
		// Outbound is allowed, and arrives from the container's address.
		if !containerGets(t, "pub1", "http://10.210.1.1:"+hostPort+"/", "from="+ip+"\n") {
			t.Fatal("outbound connection from a published-level container failed or was NATed")
		}
		if got := strings.TrimSpace(v.must(t, "port", "pub1")); got != "80/tcp -> "+ip+":80" {
			t.Fatalf("docker port: %q", got)
		}
		if out := v.must(t, "exec", "pub1", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver 10.210.1.1") {
			t.Fatalf("resolv.conf on public: %q", out)
		}
		// A host port other than the container's is refused at create.
		if r := v.docker(t, "create", "--network", "public", "-p", "8080:80", img); r.Exit == 0 || !strings.Contains(r.Stderr, "-p 80:80") {
			t.Fatalf("-p 8080:80 on a container network: %s", r)
		}
	})

	t.Run("Open", func(t *testing.T) {
		ip := web(t, "open1", "open")
		if !hostGets("http://"+ip+":80/") || !hostGets("http://"+ip+":8081/") {
			t.Fatal("open level: unpublished ports not reachable")
		}
	})

	t.Run("StaticIP", func(t *testing.T) {
		// --ip takes an address of the VCH's range on a container
		// network; the rest of the subnet is other hosts'.
		ip := web(t, "fixed1", "open", "--ip", "10.210.2.15")
		if ip != "10.210.2.15" || !hostGets("http://10.210.2.15:80/") {
			t.Fatalf("--ip 10.210.2.15 on open: address %q, or not reachable there", ip)
		}
		r := v.docker(t, "run", "--rm", "--network", "open", "--ip", "10.210.2.30", img, "true")
		if r.Exit == 0 || !strings.Contains(r.Stderr, "no configured subnet or ip-range contain the IP address 10.210.2.30") {
			t.Fatalf("--ip outside the range: %s", r)
		}
	})

	t.Run("Outbound", func(t *testing.T) {
		ip := web(t, "out1", "outbound", "-p", "80:80")
		if !containerGets(t, "out1", "http://10.210.3.1:"+hostPort+"/", "from="+ip+"\n") {
			t.Fatal("outbound level: the container cannot connect out")
		}
		if hostGets("http://" + ip + ":80/") {
			t.Fatal("outbound level: inbound connection accepted (even to a published port)")
		}
	})

	t.Run("Peers", func(t *testing.T) {
		ipA := web(t, "peerA", "peers")
		ipB := web(t, "peerB", "peers")
		if !containerGets(t, "peerA", "http://"+ipB+":8081/", "hello-peerB") || !containerGets(t, "peerB", "http://"+ipA+":80/", "hello-peerA") {
			t.Fatal("peers level: peers cannot reach each other")
		}
		if hostGets("http://" + ipB + ":80/") {
			t.Fatal("peers level: the host reaches a container")
		}
		if containerGets(t, "peerA", "http://10.210.4.1:"+hostPort+"/", "from=") {
			t.Fatal("peers level: a container reaches the host")
		}
		// A container on another network is no peer.
		if containerGets(t, "peerA", "http://"+netHostAddr+":"+hostPort+"/", "from=") {
			t.Fatal("peers level: a container reaches the host's other address")
		}
	})

	t.Run("Closed", func(t *testing.T) {
		ip := web(t, "closed1", "closed", "-p", "80:80")
		if hostGets("http://" + ip + ":80/") {
			t.Fatal("closed level: inbound connection accepted")
		}
		if containerGets(t, "closed1", "http://10.210.5.1:"+hostPort+"/", "from=") {
			t.Fatal("closed level: outbound connection made")
		}
		// A restarted vchd keeps the running container filtered.
		restartVCHD(t, v)
		up(t, "closed1")
		if hostGets("http://" + ip + ":80/") {
			t.Fatal("closed level after a vchd restart: inbound connection accepted")
		}
	})

	t.Run("Configure", func(t *testing.T) {
		// vic-machine configure changes a network's level in place.
		if b, err := v.vicMachine("configure", "--name", v.name, "--container-network-firewall", "closed:open"); err != nil {
			t.Fatalf("vic-machine configure: %v\n%s", err, b)
		}
		if got := strings.TrimSpace(v.must(t, "network", "inspect", "-f", `{{index .Options "vch.container-network.firewall"}}`, "closed")); got != "open" {
			t.Fatalf("level after configure: %q", got)
		}
		ip := web(t, "reopened", "closed")
		if !hostGets("http://" + ip + ":8081/") {
			t.Fatal("closed network configured open: unpublished port not reachable")
		}
		if b, err := v.vicMachine("inspect", "config", "--name", v.name); err != nil || !strings.Contains(b, "--container-network-firewall closed:open") {
			t.Fatalf("inspect config: %v\n%s", err, b)
		}
	})

	t.Run("SeedDemo", func(t *testing.T) {
		const page = "hello from nginx on a container network\n"
		ngx, err := fixture.NginxImage(fixture.DebRoot, demoNginxConf, map[string][]byte{"index.html": []byte(page)})
		if err != nil {
			t.Fatal(err)
		}
		if err := fixture.Push(context.Background(), env.registry.Addr, "nginx", "latest", ngx); err != nil {
			t.Fatal(err)
		}
		v.must(t, "pull", env.registry.Addr+"/nginx:latest")
		v.must(t, "tag", env.registry.Addr+"/nginx:latest", "nginx")
		// The slides' commands, verbatim, in the VCH's namespace.
		sh := func(script string) string {
			t.Helper()
			cmd := exec.Command(v.nsenter()[0], append(v.nsenter()[1:], "sh", "-c", script)...)
			cmd.Env = v.environ()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", script, err, out)
			}
			return string(out)
		}
		t.Cleanup(func() { v.docker(t, "rm", "-f", "hello1", "hello2", "hello3") })
		sh(`for i in 1 2 3; do
	docker run -d -p 80:80 --network public --name hello${i} nginx
done;`)
		addr := regexp.MustCompile(`"IPAddress": "([0-9.]+)"`)
		seen := map[string]bool{}
		for i := 1; i <= 3; i++ {
			line := sh(fmt.Sprintf("docker container inspect hello%d | grep IPAddress | tail -n 1", i))
			m := addr.FindStringSubmatch(line)
			if m == nil || !strings.HasPrefix(m[1], "10.210.1.") || seen[m[1]] {
				t.Fatalf("hello%d's address: %q", i, line)
			}
			seen[m[1]] = true
			waitFetch(t, v.ns, "http://"+m[1]+"/", page)
		}
		for i := 1; i <= 3; i++ {
			sh(fmt.Sprintf("docker stop hello%d && docker rm hello%d", i, i))
		}
		if n := activeLeases(t, v); n != 0 {
			t.Fatalf("%d leases after the demo's containers were removed", n)
		}
	})

	t.Run("UserNetworkNothingLeft", func(t *testing.T) {
		taps0, bridges0, rules0, chains0 := hostLeftovers(t, v)
		v.must(t, "network", "create", "--subnet", "10.211.0.0/24", "leaky")
		t.Cleanup(func() { v.docker(t, "rm", "-f", "lk1", "lk2"); v.docker(t, "network", "rm", "leaky") })
		v.must(t, "run", "-d", "--name", "lk1", "--network", "leaky", "-p", "8086:80", img, "sh", "-c", webCmd)
		v.must(t, "run", "-d", "--name", "lk2", "-p", "8087:80", img, "sh", "-c", webCmd)
		v.must(t, "network", "connect", "leaky", "lk2")
		waitFetch(t, v.ns, "http://127.0.0.1:8086/", "hello-from-vch")
		waitFetch(t, v.ns, "http://127.0.0.1:8087/", "hello-from-vch")
		taps, bridges, rules, chains := hostLeftovers(t, v)
		if taps == 0 || bridges != bridges0+1 || rules <= rules0 || chains != chains0 {
			t.Fatalf("while running: %d taps, %d bridges (%d before), %d rules (%d before), %d chains (%d before)", taps, bridges, bridges0, rules, rules0, chains, chains0)
		}
		v.must(t, "network", "disconnect", "leaky", "lk2")
		v.must(t, "rm", "-f", "lk1", "lk2")
		v.must(t, "network", "rm", "leaky")
		poll(t, "taps, bridges, rules and chains as before the user network", func() bool {
			taps, bridges, rules, chains = hostLeftovers(t, v)
			return taps == taps0 && bridges == bridges0 && rules == rules0 && chains == chains0
		})
		if n := activeLeases(t, v); n != 0 {
			t.Fatalf("%d leases left", n)
		}
		for _, port := range []string{"8086", "8087"} {
			if _, err := fetch(v.ns, "http://127.0.0.1:"+port+"/"); err == nil {
				t.Fatalf("port %s still served after rm", port)
			}
		}
	})

	t.Run("NothingLeft", func(t *testing.T) {
		// Every container of the test is removed by now (subtests'
		// cleanups ran); then the VCH goes.
		if out := strings.TrimSpace(v.must(t, "ps", "-aq")); out != "" {
			t.Fatalf("containers left: %s", out)
		}
		if _, _, _, chains := hostLeftovers(t, v); chains != 2*len(containerNets) {
			t.Fatalf("%d firewall chains while the VCH exists, want %d", chains, 2*len(containerNets))
		}
		if b, err := v.vicMachine("delete", "--name", v.name, "--force"); err != nil {
			t.Fatalf("vic-machine delete: %v\n%s", err, b)
		}
		awaitNothingLeft(t, "after delete", func() string { return leftAfterDelete(t, v) })
	})
}

// demoNginxConf keeps nginx in the foreground, serving
// /usr/share/nginx/html on port 80.
const demoNginxConf = `user root;
daemon off;
worker_processes 1;
error_log stderr;
events { worker_connections 64; }
http {
	access_log off;
	server {
		listen 80;
		root /usr/share/nginx/html;
	}
}
`

// awaitNothingLeft polls, for up to 90 s, until left reports nothing
// (""): vic-machine delete returns before the kernel has let go of every
// tap, bridge and rule of the VMs and vchd it ended. It fails the test
// with the last report.
func awaitNothingLeft(t *testing.T, what string, left func() string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		l := left()
		if l == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after 90s still %s", what, l)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// leftAfterDelete is awaitNothingLeft's report of hostLeftovers.
func leftAfterDelete(t *testing.T, v *netVCH) string {
	t.Helper()
	taps, bridges, rules, chains := hostLeftovers(t, v)
	if taps+bridges+rules+chains == 0 {
		return ""
	}
	return fmt.Sprintf("%d taps, %d bridges (vch*, cn*), %d rules, %d chains", taps, bridges, rules, chains)
}

// hostLeftovers counts, in the VCH's namespace, taps (vt*), bridges a VCH
// made (vch*, and the container network bridges of TestContainerNetworks,
// cn*), iptables and ip6tables rules tagged vch: and vch firewall chains (vchi-/vcho-).
func hostLeftovers(t *testing.T, v *netVCH) (taps, bridges, rules, chains int) {
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
		case strings.HasPrefix(name, "vch"), strings.HasPrefix(name, "cn"):
			bridges++
		}
	}
	for _, bin := range []string{"iptables-save", "ip6tables-save"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			save, err := v.ns.Run(bin, "-t", table)
			if err != nil {
				t.Fatal(err)
			}
			rules += strings.Count(save, "vch:")
			chains += strings.Count(save, "\n:vchi-") + strings.Count(save, "\n:vcho-")
		}
	}
	return taps, bridges, rules, chains
}
