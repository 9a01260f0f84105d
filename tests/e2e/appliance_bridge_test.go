package e2e

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/portlayer/qemu/kernel"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/portlayer/vsphere/vsstorage"
	"github.com/vchproject/vch/tests/fixture"
	"github.com/vchproject/vch/tests/vcsim/simproc"
)

// TestApplianceBridgeNetwork: the seed's `docker run -d -p 80:80 --name
// hi-there nginx` on a VCH that lives wholly on (simulated) vSphere. The
// built vic-machine creates the VCH on a simulated vCenter (tests/vcsim);
// a vsimtest.QEMUHost runs every VM of the cluster's pool as a QEMU guest
// the way an ESXi host would: the endpoint VM boots appliance.iso, the
// container VMs its vchd makes boot bootstrap.iso. The endpoint's public
// NIC ("VM Network", 10.0.2.15/24) is a QEMU user-mode network that lets
// nothing out (restrict=on) but the test's forwards: the API (2376), the
// serial concentrator (2377, which the container VMs' serial ports dial
// at 10.0.2.15:2377) and port 80 from the test's loopback; the simulator
// (10.0.2.100:8989), the registry as Docker Hub's mirror (10.0.2.101:5000)
// and a web server of the test's (10.0.2.102:8080) from the guest. The
// bridge port group DC0_DVPG0 is the QEMUHost's switch, shared by the
// endpoint VM and the container VMs.
//
// What it shows: the endpoint VM is the bridge network's gateway; a port
// published with -p on the bridge network answers on the endpoint's public
// address with the container's page; a container on the bridge network
// connects out through the endpoint (forwarding and NAT); docker ps shows
// the binding; configure restarts the endpoint VM and the new vchd
// finds the running container and serves its port again, and, its state
// being on the endpoint's data disk, still lists the images pulled and
// shows the logs of a container that ran before the restart; that
// container, committed, gives an image that runs; the image layers are
// child disks written by the endpoint VM, each with its own diff (a
// container of busybox + a layer adding a file + a layer deleting one
// sees the right files; the top layer's delta file is small); the
// seed's volume workflow
// (volume create --opt Capacity=1G, cp into a running container's
// volume, read back from another) works; docker rm -f removes the
// container's VM. A user-defined network (docker network create) gets a
// NIC hot-added to the endpoint VM as its gateway: its containers find
// each other by name, reach the outside, cannot reach the bridge
// network's containers, and publish ports; network rm removes the NIC.
// Last, docker-compose up -d --scale web=2 and down on the appliance.
func TestApplianceBridgeNetwork(t *testing.T) {
	const user, pass, name = "administrator@vsphere.local", "Br1dge-s3cret", "appl-bridge"
	dir := t.TempDir()
	bin := func(p string) string { return filepath.Join(env.repo, "bin", p) }
	appliance, bootstrap := applianceISO(t, dir), filepath.Join(dir, "bootstrap.iso")
	if out, err := exec.Command(bin("mkiso"), "bootstrap", "-o", bootstrap, "-tether", bin("tether"), "-kernel-dir", kernel.DefaultDir()).CombinedOutput(); err != nil {
		t.Fatalf("mkiso bootstrap: %v\n%s", err, out)
	}
	const page = "hello from nginx on the bridge network of a vSphere VCH\n"
	ngx, err := fixture.NginxImage(fixture.DebRoot, demoNginxConf, map[string][]byte{"index.html": []byte(page)})
	if err != nil {
		t.Fatal(err)
	}
	// Docker Hub's "nginx" is library/nginx on the mirror.
	if err := fixture.Push(context.Background(), env.registry.Addr, "library/nginx", "latest", ngx); err != nil {
		t.Fatal(err)
	}
	sim := buildVcsim(t, dir)
	vs := simproc.Start(t, sim, user, pass)
	_, simPort, _ := net.SplitHostPort(vs.Host)

	// The web server a container reaches out to.
	const outbound = "the world outside the VCH\n"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, outbound) })}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ports := map[string]int{}
	for _, p := range []string{"api", "serial", "web"} {
		if ports[p], err = freePort(); err != nil {
			t.Fatal(err)
		}
	}
	relay := func(to string) string { return "cmd:" + sim + " -relay " + to }
	public := strings.Join([]string{
		"restrict=on",
		fmt.Sprintf("hostfwd=tcp:127.0.0.1:%d-:2376", ports["api"]),
		fmt.Sprintf("hostfwd=tcp:127.0.0.1:%d-:2377", ports["serial"]),
		fmt.Sprintf("hostfwd=tcp:127.0.0.1:%d-:80", ports["web"]),
		"guestfwd=tcp:10.0.2.100:8989-" + relay("127.0.0.1:"+simPort),
		"guestfwd=tcp:10.0.2.101:5000-" + relay(env.registry.Addr),
		"guestfwd=tcp:10.0.2.102:8080-" + relay(ln.Addr().String()),
	}, ",")
	ctx := context.Background()
	sess, err := vsession.Open(ctx, vsession.Config{
		URL: (&url.URL{Scheme: "https", User: url.UserPassword(user, pass), Host: vs.Host, Path: "/sdk"}).String(), Thumbprint: vs.Thumbprint,
		Datacenter: "/DC0", Pool: "/DC0/host/DC0_C0/Resources",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	host := vsimtest.StartQEMUHostWith(t, sess, zaptest.NewLogger(t), vsimtest.QEMUHostOptions{
		UserNets: map[string]string{"VM Network": public},
		SerialRoute: func(hp string) string {
			if hp == "10.0.2.15:2377" {
				return "127.0.0.1:" + strconv.Itoa(ports["serial"])
			}
			return hp
		},
		// The endpoint VM reaches the simulator at the guestfwd address.
		Guestinfo: func(vm string, info map[string]string) error {
			if vm != name {
				return nil
			}
			c, err := vice.Decode(info)
			if err != nil {
				return err
			}
			c.Target = "10.0.2.100:8989"
			enc, err := vice.Encode(c, info[vice.KeyKey])
			if err != nil {
				return err
			}
			for k := range info {
				if strings.HasPrefix(k, vice.Prefix) {
					delete(info, k)
				}
			}
			for k, v := range enc {
				info[k] = v
			}
			return nil
		},
	})
	defer func() {
		if t.Failed() {
			if p := host.ConsolePath(name); p != "" {
				b, _ := os.ReadFile(p)
				t.Logf("the endpoint VM's console:\n%s", b)
			}
		}
	}()

	certs := filepath.Join(dir, "certs")
	create := exec.Command(bin("vic-machine"), "create", "--name", name, "--compute-resource", "DC0_C0", "--image-store", "LocalDS_0",
		"--volume-store", "LocalDS_0/"+name+"-vols:default", "--bridge-network", "DC0_DVPG0", "--public-network", "VM Network",
		"--public-network-ip", "10.0.2.15/24", "--public-network-gateway", "10.0.2.2", "--dns-server", "10.0.2.3",
		"--registry-mirror", "http://10.0.2.101:5000", "--insecure-registry", "10.0.2.101:5000", "--container-memory", "256M",
		"--cert-path", certs, "--appliance-iso", appliance, "--bootstrap-iso", bootstrap, "--target", vs.Target(), "--thumbprint", vs.Thumbprint)
	create.Env = append(os.Environ(), "VIC_MACHINE_PASSWORD="+pass)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}

	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DOCKER_HOST=tcp://127.0.0.1:" + strconv.Itoa(ports["api"]),
		"DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs, "DOCKER_CONFIG=" + filepath.Join(dir, "cli")}
	docker := func(args ...string) result {
		t.Helper()
		r, err := runDocker(nil, environ, "", args...)
		if err != nil {
			t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
		}
		return r
	}
	for deadline := time.Now().Add(15 * time.Minute); !apiAnswers(environ); time.Sleep(2 * time.Second) {
		if time.Now().After(deadline) {
			t.Fatal("the appliance's API never answered")
		}
	}

	// The seed's command, verbatim: nginx comes from the mirror.
	start := time.Now()
	r := docker("run", "-d", "-p", "80:80", "--name", "hi-there", "nginx")
	if r.Exit != 0 {
		t.Fatalf("docker run -d -p 80:80 --name hi-there nginx: %s", r)
	}
	ran := time.Since(start)
	id := strings.TrimSpace(r.Stdout)
	_, finder := vs.Login(t)
	// Container VMs are named by the container's short ID (no
	// --container-name-convention).
	if len(id) != 64 {
		t.Fatalf("docker run -d printed %q", id)
	}
	if _, err := finder.VirtualMachine(ctx, id[:12]); err != nil {
		t.Fatalf("the container's VM %s: %v", id[:12], err)
	}
	defer docker("rm", "-f", "hi-there")
	if r := docker("ps", "--format", "{{.Names}} {{.Ports}}"); r.Exit != 0 || strings.TrimSpace(r.Stdout) != "hi-there 0.0.0.0:80->80/tcp" {
		t.Errorf("docker ps: %s", r)
	}
	ip := strings.TrimSpace(docker("inspect", "--format", "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}}", "hi-there").Stdout)
	if !strings.HasPrefix(ip, "172.16.") || !strings.HasSuffix(ip, " 172.16.0.1") {
		t.Errorf("the container's address and gateway: %q", ip)
	}
	// The published port, on the endpoint's public address.
	web := "http://127.0.0.1:" + strconv.Itoa(ports["web"]) + "/"
	waitPage(t, web, page, "the published port 80")
	t.Logf("docker run -d (pull from the mirror, image disks, VM boot) took %s; the page answered %s after the run began", ran.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// A container that printed and exited, of a second image (busybox,
	// from the registry by its address), before the endpoint's restart.
	bb := "10.0.2.101:5000/library/busybox:latest"
	if err := fixture.Push(context.Background(), env.registry.Addr, "library/busybox", "latest", env.bbImage); err != nil {
		t.Fatal(err)
	}
	// It also leaves a file in its writable layer, committed after the
	// restart below.
	const printed = "printed before the endpoint's restart\n"
	if r := docker("run", "--name", "printer", bb, "sh", "-c", `echo committed > /marker; echo "$1"`, "sh", strings.TrimSpace(printed)); r.Exit != 0 || r.Stdout != printed {
		t.Fatalf("docker run --name printer busybox echo: %s", r)
	}
	images := func() []string {
		t.Helper()
		r := docker("images", "--format", "{{.Repository}}:{{.Tag}}")
		if r.Exit != 0 {
			t.Fatalf("docker images: %s", r)
		}
		l := strings.Fields(r.Stdout)
		slices.Sort(l)
		return l
	}
	imagesBefore := images()
	for _, want := range []string{"nginx:latest", bb} {
		if !slices.Contains(imagesBefore, want) {
			t.Fatalf("docker images before the endpoint's restart: %q, no %s", imagesBefore, want)
		}
	}

	// configure restarts the endpoint VM (--debug is read at boot): the
	// new vchd finds hi-there running from its VM, its serial ports
	// reconnect, and the published port answers again. vchd's state is
	// on the endpoint's data disk: the images pulled and the logs of the
	// containers are still there.
	conf := exec.Command(bin("vic-machine"), "configure", "--name", name, "--debug", "--cert-path", certs, "--target", vs.Target(), "--thumbprint", vs.Thumbprint)
	conf.Env = append(os.Environ(), "VIC_MACHINE_PASSWORD="+pass)
	if out, err := conf.CombinedOutput(); err != nil {
		t.Fatalf("vic-machine configure --debug: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Minute); host.Boots(name) < 2 || !apiAnswers(environ); time.Sleep(2 * time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("the endpoint VM did not come back after configure (%d boots)", host.Boots(name))
		}
	}
	if r := docker("ps", "--format", "{{.Names}} {{.Status}}"); r.Exit != 0 || !strings.HasPrefix(strings.TrimSpace(r.Stdout), "hi-there Up") {
		t.Errorf("docker ps after the endpoint's restart: %s", r)
	}
	waitPage(t, web, page, "the published port 80, after the endpoint's restart")
	if r := docker("logs", "hi-there"); r.Exit != 0 {
		t.Errorf("docker logs hi-there after the endpoint's restart: %s", r)
	}
	if got := images(); !slices.Equal(got, imagesBefore) {
		t.Errorf("docker images after the endpoint's restart: %q, before it: %q", got, imagesBefore)
	}
	if r := docker("logs", "printer"); r.Exit != 0 || r.Stdout != printed {
		t.Errorf("docker logs printer after the endpoint's restart: %s", r)
	}
	b, _ := os.ReadFile(host.ConsolePath(name))
	if !strings.Contains(string(b), "data disk mounted") || strings.Contains(string(b), "NO DATA DISK") {
		t.Errorf("the endpoint's console does not show the data disk mounted:\n%s", b)
	}

	// Outbound: a container on the bridge network reaches a server
	// beyond the endpoint VM.
	start = time.Now()
	if r := docker("run", "--rm", bb, "wget", "-q", "-O", "-", "http://10.0.2.102:8080/"); r.Exit != 0 || r.Stdout != outbound {
		t.Errorf("outbound from the bridge network: %s", r)
	}
	t.Logf("docker run --rm busybox wget (outbound through the endpoint) took %s", time.Since(start).Round(time.Millisecond))

	// A committed image runs: the writable layer of a container that
	// ended before the endpoint's restart becomes a layer disk, under
	// the new container's writable layer, booted.
	if r := docker("commit", "printer", "made:1"); r.Exit != 0 {
		t.Fatalf("docker commit printer: %s", r)
	}
	if r := docker("run", "--rm", "made:1", "cat", "/marker"); r.Exit != 0 || r.Stdout != "committed\n" {
		t.Errorf("run of the committed image: %s", r)
	}
	if r := docker("rm", "printer"); r.Exit != 0 {
		t.Errorf("docker rm printer: %s", r)
	}

	// Image layers are a chain of disks, each written by the endpoint
	// VM with its own diff: busybox, a layer that adds a file, a layer
	// that deletes one of busybox's. A container of the image sees the
	// chain's files; the top layer's disk holds only its diff.
	layered := layeredImage(t)
	if err := fixture.Push(context.Background(), env.registry.Addr, "library/layered", "latest", layered); err != nil {
		t.Fatal(err)
	}
	if r := docker("run", "--rm", "10.0.2.101:5000/library/layered", "sh", "-c",
		"cat /added.txt; test -e /etc/group && echo group; test -e /etc/passwd && echo passwd; test -x /bin/busybox && echo busybox"); r.Exit != 0 ||
		r.Stdout != "from layer 2\npasswd\nbusybox\n" {
		t.Errorf("a container of the three-layer image: %s", r)
	}
	checkLayerDisks(t, ctx, host, layered)

	// The seed's volume workflow: a 1G VMDK volume, docker cp into a
	// running container's mount of it, read back by another container.
	if r := docker("volume", "create", "--opt", "VolumeStore=default", "--opt", "Capacity=1G", "--name", "hello1"); r.Exit != 0 || strings.TrimSpace(r.Stdout) != "hello1" {
		t.Fatalf("docker volume create: %s", r)
	}
	if r := docker("run", "-d", "-v", "hello1:/stuff", "--name", "truck", bb, "sleep", "600"); r.Exit != 0 {
		t.Fatalf("docker run -d -v hello1:/stuff --name truck busybox: %s", r)
	}
	local := filepath.Join(dir, "local-file")
	if err := os.WriteFile(local, []byte("carried by the truck\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := docker("cp", local, "truck:/stuff/dest-file"); r.Exit != 0 {
		t.Errorf("docker cp ./local-file truck:/stuff/dest-file: %s", r)
	}
	if r := docker("rm", "-f", "truck"); r.Exit != 0 {
		t.Fatalf("docker rm -f truck: %s", r)
	}
	if r := docker("run", "--rm", "-v", "hello1:/stuff", bb, "cat", "/stuff/dest-file"); r.Exit != 0 || r.Stdout != "carried by the truck\n" {
		t.Errorf("the file on the volume, from another container: %s", r)
	}
	if r := docker("volume", "rm", "hello1"); r.Exit != 0 {
		t.Errorf("docker volume rm hello1: %s", r)
	}

	// A user-defined network: a port group of its own, whose gateway is
	// a NIC hot-added to the endpoint VM. Its containers reach each
	// other by name (the network's DNS on that gateway), reach the
	// outside, and not the bridge network's containers.
	hiThere, _, _ := strings.Cut(ip, " ")
	nics := endpointNICCount(t, ctx, finder, name)
	if r := docker("network", "create", "app"); r.Exit != 0 {
		t.Fatalf("docker network create app: %s", r)
	}
	if got := endpointNICCount(t, ctx, finder, name); got != nics+1 {
		t.Errorf("the endpoint VM has %d NICs after network create, want %d", got, nics+1)
	}
	if r := docker("run", "-d", "--network", "app", "--name", "web", "nginx"); r.Exit != 0 {
		t.Fatalf("docker run --network app --name web nginx: %s", r)
	}
	defer docker("rm", "-f", "web")
	// web's nginx may still be starting when the first check asks
	// (docker run -d returns once the process has started): it asks up
	// to 10 times.
	if r := docker("run", "--rm", "--network", "app", bb, "sh", "-c",
		"for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://web/ && exit; sleep 1; done; exit 1"); r.Exit != 0 || r.Stdout != page {
		t.Errorf("web by name from the same network: %s", r)
	}
	if r := docker("run", "--rm", "--network", "app", bb, "wget", "-q", "-O", "-", "http://10.0.2.102:8080/"); r.Exit != 0 || r.Stdout != outbound {
		t.Errorf("outbound from the user-defined network: %s", r)
	}
	if r := docker("run", "--rm", "--network", "app", bb, "wget", "-q", "-T", "5", "-O", "-", "http://"+hiThere+"/"); r.Exit == 0 {
		t.Errorf("a container on network app reached hi-there on the bridge network (%s): %s", hiThere, r)
	}

	if r := docker("rm", "-f", "hi-there"); r.Exit != 0 {
		t.Fatalf("docker rm -f: %s", r)
	}
	if _, err := finder.VirtualMachine(ctx, id[:12]); err == nil {
		t.Error("the container's VM outlived docker rm -f")
	}
	// A port published from the user-defined network.
	if r := docker("run", "-d", "--network", "app", "-p", "80:80", "--name", "web2", "nginx"); r.Exit != 0 {
		t.Fatalf("docker run --network app -p 80:80 nginx: %s", r)
	}
	waitPage(t, web, page, "port 80 published from network app")
	if r := docker("rm", "-f", "web", "web2"); r.Exit != 0 {
		t.Fatalf("docker rm -f web web2: %s", r)
	}
	if r := docker("network", "rm", "app"); r.Exit != 0 {
		t.Fatalf("docker network rm app: %s", r)
	}
	if got := endpointNICCount(t, ctx, finder, name); got != nics {
		t.Errorf("the endpoint VM has %d NICs after network rm, want %d", got, nics)
	}

	// docker-compose up -d --scale: the project's network is a
	// user-defined one (a leg of its own), its two web containers answer
	// by the service's name; down removes them and the network's NIC.
	project := filepath.Join(dir, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "docker-compose.yml"), []byte("version: \"2.4\"\nservices:\n  web:\n    image: nginx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) result {
		t.Helper()
		cmd := exec.Command("docker-compose", append([]string{"-p", "applweb"}, args...)...)
		cmd.Dir, cmd.Env = project, append(environ, composeEnv...)
		out, err := cmd.Output()
		r := result{Stdout: string(out)}
		if ee, ok := err.(*exec.ExitError); ok {
			r.Exit, r.Stderr = ee.ExitCode(), string(ee.Stderr)
		} else if err != nil {
			t.Fatalf("docker-compose %s: %v", strings.Join(args, " "), err)
		}
		return r
	}
	if r := compose("up", "-d", "--scale", "web=2"); r.Exit != 0 {
		t.Fatalf("docker-compose up -d --scale web=2: %s", r)
	}
	if r := compose("ps", "-q", "web"); r.Exit != 0 || len(strings.Fields(r.Stdout)) != 2 {
		t.Errorf("docker-compose ps -q web: %s", r)
	}
	if got := endpointNICCount(t, ctx, finder, name); got != nics+1 {
		t.Errorf("the endpoint VM has %d NICs with the compose project up, want %d", got, nics+1)
	}
	if r := docker("run", "--rm", "--network", "applweb_default", bb, "sh", "-c",
		"for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://web/ && exit; sleep 1; done; exit 1"); r.Exit != 0 || r.Stdout != page {
		t.Errorf("the compose service by name: %s", r)
	}
	if r := compose("down"); r.Exit != 0 {
		t.Errorf("docker-compose down: %s", r)
	}
	if got := endpointNICCount(t, ctx, finder, name); got != nics {
		t.Errorf("the endpoint VM has %d NICs after compose down, want %d", got, nics)
	}
	b, _ = os.ReadFile(host.ConsolePath(name))
	for _, want := range []string{"bridge leg up", "endpoint leg up"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the endpoint's console lacks %q:\n%s", want, b)
		}
	}
}

// layeredImage is busybox, a layer that adds /added.txt, and a layer that
// deletes /etc/group (a whiteout).
func layeredImage(t *testing.T) *fixture.Image {
	t.Helper()
	add, err := fixture.BuildLayer([]fixture.Entry{{Path: "added.txt", Data: []byte("from layer 2\n")}})
	if err != nil {
		t.Fatal(err)
	}
	del, err := fixture.BuildLayer([]fixture.Entry{{Path: "etc/.wh.group"}})
	if err != nil {
		t.Fatal(err)
	}
	two, err := fixture.WithLayer(env.bbImage, fixture.ImageConfig{Cmd: []string{"sh"}}, add)
	if err != nil {
		t.Fatal(err)
	}
	img, err := fixture.WithLayer(two, fixture.ImageConfig{Cmd: []string{"sh"}}, del)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// checkLayerDisks finds the image's layer disks on the datastore (by
// chain ID, under the VCH's image folder): the base's flat extent holds
// busybox; every other layer is a child whose delta file (the QEMUHost's
// qcow2 beside its descriptor) is small, and its flat extent empty.
func checkLayerDisks(t *testing.T, ctx context.Context, host *vsimtest.QEMUHost, img *fixture.Image) {
	t.Helper()
	var sl storage.Image
	for _, l := range img.Layers {
		sl.Layers = append(sl.Layers, storage.Layer{DiffID: l.DiffID})
	}
	chains := vsstorage.ChainIDs(sl)
	root, err := host.HostPath(ctx, "[LocalDS_0] ")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]int64{} // file name → bytes allocated
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, c := range chains {
			if filepath.Base(filepath.Dir(p)) == c {
				st, err := os.Stat(p)
				if err != nil {
					return err
				}
				files[d.Name()] = st.Sys().(*syscall.Stat_t).Blocks * 512
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	base, ok := files[chains[0]+"-flat.vmdk"]
	if !ok || base < 1<<20 {
		t.Errorf("the base layer's extent: %d bytes allocated (%v)", base, files)
	}
	for _, c := range chains[1:] {
		delta, ok := files[c+"-delta.qcow2"]
		if !ok || delta >= 1<<20 || delta >= base || files[c+"-flat.vmdk"] != 0 {
			t.Errorf("layer %s: delta file %d bytes allocated, flat extent %d (base %d; %v)", c, delta, files[c+"-flat.vmdk"], base, files)
		}
	}
	t.Logf("layer disks, bytes allocated: base %d, then %d and %d", base, files[chains[1]+"-delta.qcow2"], files[chains[2]+"-delta.qcow2"])
}

// endpointNICCount is how many NICs the endpoint VM has on the simulator.
func endpointNICCount(t *testing.T, ctx context.Context, finder *find.Finder, vm string) int {
	t.Helper()
	ref, err := finder.VirtualMachine(ctx, vm)
	if err != nil {
		t.Fatal(err)
	}
	devices, err := ref.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return len(devices.SelectByType((*types.VirtualEthernetCard)(nil)))
}

// waitPage GETs url (from the test's loopback) until it answers want, for
// up to three minutes; what names the port in the failure.
func waitPage(t *testing.T, url, want, what string) {
	t.Helper()
	var body string
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(time.Second) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); body == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s (%s): %v %q", url, what, err, body)
		}
	}
}

// apiAnswers tells whether docker info succeeds with environ.
func apiAnswers(environ []string) bool {
	r, err := runDocker(nil, environ, "", "info", "--format", "{{.Name}}")
	return err == nil && r.Exit == 0
}
