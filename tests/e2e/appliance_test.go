package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/portlayer/qemu/kernel"
	"github.com/vchproject/vch/tests/vcsim/simproc"
	"github.com/vchproject/vch/tether/guestinfo"
)

// TestApplianceServesDocker: the endpoint VM as vSphere would boot it. The
// built vic-machine creates a VCH on a simulated vCenter with a static
// public address (10.0.2.15/24, gateway 10.0.2.2: QEMU's user network);
// the appliance ISO built from bin/ (vch-appliance as /init, static vchd)
// boots under QEMU (pc, TCG) from its CD-ROM with one vmxnet3 NIC carrying
// the public network's MAC and the endpoint VM's guestinfo in the fw_cfg
// item a QEMU standing in for ESXi uses. The guest reaches the simulator
// at 10.0.2.100:8989 (a guestfwd running tests/vcsim -relay per
// connection; the config's target says so: vic-machine wrote the
// simulator's loopback address) and nothing else (restrict=on);
// the test reaches the guest's API port through hostfwd. The docker CLI
// with the client certificates create wrote then gets docker info,
// network ls and volume ls from vchd on the appliance; the ACPI power
// button stops vchd and powers the VM off. Twice: with a static public
// address, and with DHCP.
func TestApplianceServesDocker(t *testing.T) {
	const user, pass = "administrator@vsphere.local", "Appl-s3cret"
	dir := t.TempDir()
	iso, sim := applianceISO(t, dir), buildVcsim(t, dir)
	vs := simproc.Start(t, sim, user, pass)
	// A static public address, as the user gave it.
	t.Run("static", func(t *testing.T) {
		bootAppliance(t, vs, sim, iso, "appl-static", "DC0_DVPG0", true, nil, "--public-network-ip", "10.0.2.15/24",
			"--public-network-gateway", "10.0.2.2", "--dns-server", "10.0.2.3")
	})
	// DHCP: QEMU's user network hands out 10.0.2.15/24, router 10.0.2.2
	// and DNS 10.0.2.3; the client certificate still verifies the
	// server at 127.0.0.1 (the loopback names every server certificate).
	t.Run("dhcp", func(t *testing.T) {
		bootAppliance(t, vs, sim, iso, "appl-dhcp", "DC0_DVPG1", false, nil)
	})
}

// TestApplianceAfterConfigure: a VCH created with DHCP, then changed by
// vic-machine configure --target to a static public address with a
// gateway and DNS server, an extra certificate name and a registry
// mirror; configure restarts the (simulated) endpoint VM and prints the
// new DOCKER_HOST. The appliance booted from the new guestinfo sets up
// the static address, serves a certificate that verifies for the new
// name (signed by the VCH's CA, whose client certificate docker uses),
// and docker info lists the mirror.
func TestApplianceAfterConfigure(t *testing.T) {
	const user, pass = "administrator@vsphere.local", "Appl-s3cret"
	dir := t.TempDir()
	iso, sim := applianceISO(t, dir), buildVcsim(t, dir)
	vs := simproc.Start(t, sim, user, pass)
	const mirror = "https://mirror.example.com"
	bootAppliance(t, vs, sim, iso, "appl-conf", "DC0_DVPG0", true, &applianceConfigure{
		args: []string{"--public-network-ip", "10.0.2.15/24", "--public-network-gateway", "10.0.2.2", "--dns-server", "10.0.2.3",
			"--tls-cname", "appl.example.com", "--registry-mirror", mirror},
		check: func(t *testing.T, port int, certPath string, docker func(args ...string) string) {
			kp, err := tls.LoadX509KeyPair(filepath.Join(certPath, "cert.pem"), filepath.Join(certPath, "key.pem"))
			if err != nil {
				t.Fatal(err)
			}
			ca, err := os.ReadFile(filepath.Join(certPath, "ca.pem"))
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(ca)
			conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{RootCAs: pool, ServerName: "appl.example.com", Certificates: []tls.Certificate{kp}})
			if err != nil {
				t.Errorf("the appliance's certificate for appl.example.com: %v", err)
			} else {
				conn.Close()
			}
			if got := docker("info", "--format", "{{json .RegistryConfig.Mirrors}}"); !strings.Contains(got, mirror) {
				t.Errorf("docker info mirrors after configure: %s", got)
			}
		},
	})
}

// applianceConfigure is a vic-machine configure run between create and
// the appliance's boot, and what to check once the API answers.
type applianceConfigure struct {
	args  []string
	check func(t *testing.T, port int, certPath string, docker func(args ...string) string)
}

// bootAppliance creates the VCH name with the built vic-machine on the
// simulator vs (with extra create flags) and boots iso as its endpoint
// VM under QEMU, as TestApplianceServesDocker says; conf, if not nil, is
// run between create (then with DHCP) and the boot.
func bootAppliance(t *testing.T, vs *simproc.Sim, sim, iso, name, bridge string, static bool, conf *applianceConfigure, extra ...string) {
	dir := t.TempDir()
	bin := func(p string) string { return filepath.Join(env.repo, "bin", p) }
	certs := filepath.Join(dir, "certs")
	create := exec.Command(bin("vic-machine"), append([]string{"create", "--name", name, "--compute-resource", "DC0_C0", "--image-store", "LocalDS_0",
		"--volume-store", "LocalDS_0/" + name + "-vols:default", "--bridge-network", bridge,
		"--cert-path", certs, "--appliance-iso", iso, "--target", vs.Target(), "--thumbprint", vs.Thumbprint}, extra...)...)
	create.Env = append(os.Environ(), "VIC_MACHINE_PASSWORD="+vs.Pass)
	out, err := create.CombinedOutput()
	if err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}
	exports := parseExports(string(out))
	wantHost := "tcp://10.0.2.15:2376"
	if !static || conf != nil {
		wantHost = "tcp://ADDRESS:2376"
	}
	if exports["DOCKER_HOST"] != wantHost || exports["DOCKER_CERT_PATH"] != certs || exports["DOCKER_TLS_VERIFY"] != "1" {
		t.Fatalf("create printed\n%s", out)
	}
	if conf != nil {
		cmd := exec.Command(bin("vic-machine"), append([]string{"configure", "--name", name, "--cert-path", certs, "--target", vs.Target(), "--thumbprint", vs.Thumbprint}, conf.args...)...)
		cmd.Env = create.Env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("vic-machine configure: %v\n%s", err, out)
		}
		exports = parseExports(string(out))
		if !strings.Contains(string(out), "restarted (powered off and on)") || exports["DOCKER_HOST"] != "tcp://10.0.2.15:2376" || exports["DOCKER_CERT_PATH"] != certs {
			t.Fatalf("configure printed\n%s", out)
		}
	}

	// The endpoint VM's guestinfo, with the target as the guest reaches it.
	vc, finder := vs.Login(t)
	kv := simproc.ExtraConfig(t, vc, finder, name)
	c, err := vice.Decode(kv)
	if err != nil {
		t.Fatal(err)
	}
	if (c.Network.Public.IP == "10.0.2.15/24") != static || c.Network.Public.MAC == "" {
		t.Fatalf("public network %+v", c.Network.Public)
	}
	c.Target = "10.0.2.100:8989"
	guest, err := vice.Encode(c, kv[vice.KeyKey])
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(guest)
	infoFile := filepath.Join(dir, "guestinfo.json")
	if err := os.WriteFile(infoFile, info, 0o600); err != nil {
		t.Fatal(err)
	}

	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// QEMU runs the relay for each connection the guest opens.
	_, simPort, _ := net.SplitHostPort(vs.Host)
	console := filepath.Join(dir, "console.log")
	monitor := filepath.Join(dir, "monitor.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	q := exec.CommandContext(ctx, "qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", "1024", "-smp", "1",
		"-cdrom", iso, "-display", "none", "-vga", "none", "-serial", "file:"+console, "-no-reboot",
		"-monitor", "unix:"+monitor+",server=on,wait=off",
		"-netdev", "user,id=pub,restrict=on,hostfwd=tcp:127.0.0.1:"+strconv.Itoa(port)+"-:2376,guestfwd=tcp:10.0.2.100:8989-cmd:"+sim+" -relay 127.0.0.1:"+simPort,
		"-device", "vmxnet3,netdev=pub,mac="+c.Network.Public.MAC,
		"-fw_cfg", "name="+guestinfo.FwCfgName+",file="+infoFile)
	qout, err := os.Create(filepath.Join(dir, "qemu.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer qout.Close()
	q.Stdout, q.Stderr = qout, qout
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- q.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = q.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(console)
			qb, _ := os.ReadFile(qout.Name())
			t.Logf("console:\n%s\nqemu:\n%s", b, qb)
		}
	}()

	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DOCKER_HOST=tcp://127.0.0.1:" + strconv.Itoa(port),
		"DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs, "DOCKER_CONFIG=" + filepath.Join(dir, "cli")}
	var r result
	for deadline := time.Now().Add(15 * time.Minute); ; {
		r, err = runDocker(nil, environ, "", "info", "--format", "{{.Name}} {{.DefaultRuntime}}")
		if err == nil && r.Exit == 0 {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the appliance VM ended before the API answered: %v", err)
		case <-time.After(2 * time.Second):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the appliance's API never answered: %v %s", err, r)
		}
	}
	if got := strings.TrimSpace(r.Stdout); got != name+" vsphere" {
		t.Errorf("docker info: %q", got)
	}
	must := func(args ...string) string {
		t.Helper()
		r, err := runDocker(nil, environ, "", args...)
		if err != nil || r.Exit != 0 {
			t.Fatalf("docker %s: %v %s", strings.Join(args, " "), err, r)
		}
		return strings.TrimSpace(r.Stdout)
	}
	if conf != nil && conf.check != nil {
		conf.check(t, port, certs, must)
	}
	if got := must("network", "ls", "--format", "{{.Name}} {{.Driver}}"); got != "bridge bridge" {
		t.Errorf("network ls: %q", got)
	}
	if got := must("volume", "ls", "--format", "{{.Name}}"); got != "" {
		t.Errorf("volume ls: %q", got)
	}
	b, _ := os.ReadFile(console)
	// This QEMU has no PVSCSI controller, so no data disk (an endpoint
	// VM of a VCH not yet upgraded): the appliance says so and goes on,
	// vchd's root on tmpfs.
	for _, want := range []string{"VCH config read", "network up", `"address": "10.0.2.15/24", "dhcp": ` + strconv.FormatBool(!static), "vchd started", "NO DATA DISK"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the console lacks %q", want)
		}
	}

	// The ACPI power button: vchd stops, the VM powers off.
	mon, err := net.Dial("unix", monitor)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Write([]byte("system_powerdown\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("qemu: %v", err)
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("the appliance did not power off after the power button")
	}
	b, _ = os.ReadFile(console)
	for _, want := range []string{"ACPI power button", "vchd stopped", "powering off"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the console lacks %q after the power button", want)
		}
	}
	if !t.Failed() {
		t.Logf("console of the appliance:\n%s", b)
	}
}

// applianceISO builds appliance.iso in dir from bin/ (vch-appliance as
// /init, the static vchd and vic-machine, the fetched kernel).
func applianceISO(t *testing.T, dir string) string {
	t.Helper()
	iso := filepath.Join(dir, "appliance.iso")
	bin := func(p string) string { return filepath.Join(env.repo, "bin", p) }
	if out, err := exec.Command(bin("mkiso"), "appliance", "-o", iso, "-init", bin("vch-appliance"), "-vchd", bin("appliance/vchd"),
		"-vic-machine", bin("appliance/vic-machine"), "-kernel-dir", kernel.DefaultDir()).CombinedOutput(); err != nil {
		t.Fatalf("mkiso appliance: %v\n%s", err, out)
	}
	return iso
}

// buildVcsim builds tests/vcsim into dir.
func buildVcsim(t *testing.T, dir string) string {
	t.Helper()
	sim := filepath.Join(dir, "vcsim")
	if out, err := exec.Command("go", "build", "-o", sim, filepath.Join(env.repo, "tests", "vcsim")).CombinedOutput(); err != nil {
		t.Fatalf("build tests/vcsim: %v\n%s", err, out)
	}
	return sim
}
