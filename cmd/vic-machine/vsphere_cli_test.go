package main

import (
	"bytes"
	"github.com/vchproject/vch/tests/vcsim/simproc"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cli runs the built vic-machine against a simulated vCenter served by
// tests/vcsim in its own process on 127.0.0.1.
type cli struct {
	t        *testing.T
	bin      string
	host, tp string
	target   string
	env      []string
}

const cliUser, cliPass = "administrator@vsphere.local", "Cli-s3cret"

func newCLI(t *testing.T) *cli {
	t.Helper()
	dir := t.TempDir()
	bin, sim := filepath.Join(dir, "vic-machine"), filepath.Join(dir, "vcsim")
	for out, pkg := range map[string]string{bin: ".", sim: "../../tests/vcsim"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	vs := simproc.Start(t, sim, cliUser, cliPass)
	host, tp := vs.Host, vs.Thumbprint
	return &cli{t: t, bin: bin, host: host, tp: tp, target: cliUser + "@" + host + "/DC0",
		env: append(os.Environ(), "VIC_MACHINE_PASSWORD="+cliPass)}
}

// run runs vic-machine with args; it returns stdout, stderr and whether
// it exited 0.
func (c *cli) run(env []string, args ...string) (string, string, bool) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = nil
	err := cmd.Run()
	return out.String(), errb.String(), err == nil
}

// ok runs a command that must succeed (with target and thumbprint).
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	args = append(args, "--target", c.target, "--thumbprint", c.tp)
	out, errs, ok := c.run(c.env, args...)
	if !ok {
		c.t.Fatalf("vic-machine %q failed:\n%s%s", args, out, errs)
	}
	return out
}

// fails runs a command that must fail with one line holding want.
func (c *cli) fails(want string, args ...string) {
	c.t.Helper()
	out, errs, ok := c.run(c.env, args...)
	if ok {
		c.t.Fatalf("vic-machine %q succeeded:\n%s", args, out)
	}
	last := lastLine(errs)
	if !strings.Contains(last, want) {
		c.t.Errorf("vic-machine %q: error %q\nwant one line with %q", args, last, want)
	}
}

// lastLine is the failure line (log lines before it are progress).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// The real binary against a vCenter: the seed's thumbprint error, a wrong
// password, create, ls (the seed's table), inspect, inspect config
// (recreates the same VCH), configure, update firewall, upgrade and
// rollback, refusals, delete.
func TestVSphereCLI(t *testing.T) {
	c := newCLI(t)

	_, errs, ok := c.run(c.env, "ls", "--target", c.target)
	if ok || !strings.Contains(errs, "Failed to verify certificate for target=127.0.0.1 (thumbprint="+c.tp+")") || !strings.Contains(errs, "--thumbprint "+c.tp) {
		t.Errorf("ls without --thumbprint: %q", errs)
	}
	badEnv := append(os.Environ(), "VIC_MACHINE_PASSWORD=wrong")
	if _, errs, ok = c.run(badEnv, "ls", "--target", c.target, "--thumbprint", c.tp); ok || !strings.Contains(lastLine(errs), "incorrect user name or password") {
		t.Errorf("wrong password: %q", errs)
	}
	// GOVC_PASSWORD is read too; --user instead of USER@ in --target.
	govcEnv := append(os.Environ(), "GOVC_PASSWORD="+cliPass)
	if out, errs, ok := c.run(govcEnv, "ls", "--target", c.host+"/DC0", "--user", cliUser, "--thumbprint", c.tp); !ok || !strings.HasPrefix(out, "ID") {
		t.Errorf("ls with GOVC_PASSWORD and --user: %q %q", out, errs)
	}

	certPath := filepath.Join(t.TempDir(), "vch02-certs")
	iso := filepath.Join(t.TempDir(), "appliance.iso")
	if err := os.WriteFile(iso, []byte("not really an ISO"), 0o644); err != nil {
		t.Fatal(err)
	}
	create := []string{"create", "--name", "vch02", "--compute-resource", "DC0_C0", "--image-store", "LocalDS_0",
		"--volume-store", "LocalDS_0/vols:default", "--bridge-network", "DC0_DVPG0", "--public-network", "VM Network",
		"--container-network", "VM Network:public", "--container-network-gateway", "VM Network:10.9.0.1/24",
		"--container-network-ip-range", "VM Network:10.9.0.100-10.9.0.200", "--container-network-dns", "VM Network:10.9.0.2",
		"--container-network-firewall", "VM Network:published", "--client-network", "DC0_DVPG1", "--bridge-network-range", "10.200.0.0/16",
		"--cpu", "2GHz", "--memory-reservation", "256M", "--memory-shares", "high", "--container-name-convention", "team-{name}",
		"--container-memory", "1G", "--container-cpus", "2", "--base-image-size", "4G", "--debug", "--appliance-iso", iso,
		"--public-network-ip", "10.0.0.5/24", "--public-network-gateway", "10.0.0.1", "--client-network-ip", "10.5.0.5/24",
		"--client-network-gateway", "10.6.0.0/16:10.5.0.1", "--dns-server", "10.0.0.2", "--tls-cname", "vch02.example.com", "--cert-path", certPath}
	out := c.ok(create...)
	if !regexp.MustCompile(`^Completed successfully: VCH vch02 created: endpoint VM vm-\d+ in /DC0/host/DC0_C0/Resources/vch02\n` +
		`export DOCKER_HOST=tcp://10.5.0.5:2376\nexport DOCKER_TLS_VERIFY=1\nexport DOCKER_CERT_PATH=` + regexp.QuoteMeta(certPath) + `\n$`).MatchString(out) {
		t.Errorf("create printed %q", out)
	}
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		if _, err := os.Stat(filepath.Join(certPath, f)); err != nil {
			t.Errorf("DOCKER_CERT_PATH: %v", err)
		}
	}
	out = c.ok("ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^ID\s+PATH\s+NAME\s+VERSION\s+UPGRADE STATUS$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^vm-\d+\s+/DC0/host/DC0_C0/Resources\s+vch02\s+\S+\s+Up to date$`).MatchString(lines[1]) {
		t.Errorf("ls:\n%s", out)
	}

	base := []string{"--target", c.target, "--thumbprint", c.tp}
	c.fails("a VCH named vch02 already exists", append(append([]string{}, create...), base...)...)
	c.fails("--bridge-network DC0_DVPG0 is already the bridge network of VCH vch02",
		append([]string{"create", "--name", "other", "--image-store", "LocalDS_0", "--compute-resource", "DC0_C0", "--bridge-network", "DC0_DVPG0"}, base...)...)
	c.fails(`unknown datastore "vsanDatastore"`,
		append([]string{"create", "--name", "other", "--image-store", "vsanDatastore", "--compute-resource", "DC0_C0", "--bridge-network", "DC0_DVPG1"}, base...)...)
	c.fails(`unknown datacenter "Datacenter-South"`, "ls", "--target", cliUser+"@"+c.host+"/Datacenter-South", "--thumbprint", c.tp)

	out = c.ok("inspect", "--name", "vch02")
	for _, want := range []string{"Name: vch02", "Path: /DC0/host/DC0_C0/Resources", "CPU: limit 2000 MHz", "Memory: limit unlimited, reservation 256 MB, shares high",
		"Bridge network: DC0_DVPG0 (10.200.0.0/16)", "Client network: DC0_DVPG1",
		"Container network public: VM Network gateway 10.9.0.1/24, range 10.9.0.100-10.9.0.200, dns 10.9.0.2, firewall published",
		"Container VM defaults: 2 vCPU, 1024 MiB memory, 4 GiB writable layer", "Container name convention: team-{name}", "Volume store default: [LocalDS_0] vols", "Endpoint VM: poweredOn", "Appliance ISO: [LocalDS_0] vch02/appliance.iso",
		"Docker endpoint: tcp://10.5.0.5:2376", "Public network: VM Network (10.0.0.5/24, gateway 10.0.0.1, MAC 00:50:56:", "Client network: DC0_DVPG1 (10.5.0.5/24, gateway 10.6.0.0/16:10.5.0.1, MAC 00:50:56:",
		"DNS servers: 10.0.0.2"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
	// configure: new addresses, DNS, names and registries; a new server
	// certificate from the CA in --cert-path; the endpoint VM restarts;
	// the new DOCKER_HOST. Bad values and a missing CA: one line.
	c.fails(`--public-network-ip "10.0.1.5": give the endpoint's IPv4 address with its mask`, append([]string{"configure", "--name", "vch02", "--public-network-ip", "10.0.1.5"}, base...)...)
	c.fails("give the folder create wrote VCH vch02's certificates to", append([]string{"configure", "--name", "vch02", "--tls-cname", "new.example.com"}, base...)...)
	c.fails("--registry-mirror", append([]string{"configure", "--name", "vch02", "--registry-mirror", "mirror.local", "--cert-path", certPath}, base...)...)
	out = c.ok("configure", "--name", "vch02", "--public-network-ip", "10.0.1.5/24", "--public-network-gateway", "10.0.1.1", "--client-network-ip", "10.5.0.9/24",
		"--dns-server", "10.0.1.53", "--dns-server", "10.0.1.54", "--tls-cname", "new.example.com", "--insecure-registry", "reg.local:5000",
		"--registry-mirror", "https://mirror.local", "--cert-path", certPath)
	if !regexp.MustCompile(`^Completed successfully: VCH vch02 reconfigured; endpoint VM vm-\d+ restarted \(powered off and on\) to read the new settings, containers kept running\n` +
		`New server certificate for vch02, new.example.com, 10.0.1.5, 10.5.0.9, signed by the VCH's CA in ` + regexp.QuoteMeta(certPath) + `\n` +
		`export DOCKER_HOST=tcp://10.5.0.9:2376\nexport DOCKER_TLS_VERIFY=1\nexport DOCKER_CERT_PATH=` + regexp.QuoteMeta(certPath) + `\n$`).MatchString(out) {
		t.Errorf("configure of the endpoint printed %q", out)
	}
	out = c.ok("inspect", "--name", "vch02")
	for _, want := range []string{"Docker endpoint: tcp://10.5.0.9:2376", "Public network: VM Network (10.0.1.5/24, gateway 10.0.1.1, MAC 00:50:56:",
		"Client network: DC0_DVPG1 (10.5.0.9/24, gateway 10.6.0.0/16:10.5.0.1, MAC", "DNS servers: 10.0.1.53, 10.0.1.54", "Insecure registries: reg.local:5000",
		"Registry mirrors: https://mirror.local", "Endpoint VM: poweredOn"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect after configure lacks %q:\n%s", want, out)
		}
	}
	if out = c.ok("configure", "--name", "vch02", "--registry-mirror=", "--dns-server", "10.0.1.53", "--dns-server", "10.0.1.54"); !strings.Contains(out, "restarted") || strings.Contains(out, "DOCKER_HOST") {
		t.Errorf("configure --registry-mirror=: %q", out)
	}
	if out = c.ok("inspect", "--name", "vch02"); strings.Contains(out, "mirror.local") {
		t.Errorf("--registry-mirror= left the mirror:\n%s", out)
	}
	if out = c.ok("configure", "--name", "vch02", "--dns-server", "10.0.1.53", "--dns-server", "10.0.1.54"); out != "VCH vch02: nothing to change\n" {
		t.Errorf("configure with the same DNS servers: %q", out)
	}

	line := strings.TrimSpace(c.ok("inspect", "config", "--name", "vch02"))
	for _, want := range []string{"--container-network-firewall 'VM Network:published'", "--client-network DC0_DVPG1", "--base-image-size 4096M", "--debug", "--cpu 2000 ",
		"--public-network-ip 10.0.1.5/24 --public-network-gateway 10.0.1.1 --client-network-ip 10.5.0.9/24 --client-network-gateway 10.6.0.0/16:10.5.0.1 --dns-server 10.0.1.53 --dns-server 10.0.1.54 --tls-cname new.example.com --insecure-registry reg.local:5000"} {
		if !strings.Contains(line, want) {
			t.Errorf("inspect config lacks %q: %s", want, line)
		}
	}

	c.fails("a vSphere resource pool has no cores", append([]string{"configure", "--name", "vch02", "--cpu", "2cores"}, base...)...)
	if out = c.ok("configure", "--name", "vch02", "--cpu", "3000", "--volume-store", "LocalDS_0/more:more"); !strings.Contains(out, "reconfigured") {
		t.Errorf("configure: %q", out)
	}
	if out = c.ok("inspect", "--name", "vch02"); !strings.Contains(out, "CPU: limit 3000 MHz") || !strings.Contains(out, "Volume store more: [LocalDS_0] more") {
		t.Errorf("inspect after configure:\n%s", out)
	}

	out = c.ok("update", "firewall", "--compute-resource", "DC0_C0", "--allow")
	if !strings.Contains(out, "Host DC0_C0_H0: firewall ruleset vSPC enabled") {
		t.Errorf("update firewall --allow: %q", out)
	}
	out = c.ok("update", "firewall", "--compute-resource", "DC0_C0", "--deny")
	if !strings.Contains(out, "ruleset vSPC disabled") {
		t.Errorf("update firewall --deny: %q", out)
	}

	c.fails("already up to date", append([]string{"upgrade", "--name", "vch02"}, base...)...)
	if out = c.ok("upgrade", "--name", "vch02", "--force"); !strings.Contains(out, "upgraded") {
		t.Errorf("upgrade --force: %q", out)
	}
	if out = c.ok("upgrade", "--name", "vch02", "--rollback"); !strings.Contains(out, "rolled back") {
		t.Errorf("upgrade --rollback: %q", out)
	}

	// inspect config's line makes the same VCH again (the added store
	// stays after delete, the line predates it).
	c.ok("delete", "--name", "vch02")
	if out = c.ok("ls"); strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("ls after delete:\n%s", out)
	}
	sh := exec.Command("sh", "-c", strings.Replace(line, "vic-machine", c.bin, 1)+" --user "+cliUser)
	sh.Env = c.env
	sh.Dir = t.TempDir() // the certificates go to ./vch02 there
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("the inspect config line %q failed: %v\n%s", line, err, b)
	}
	if again := strings.TrimSpace(c.ok("inspect", "config", "--name", "vch02")); again != line {
		t.Errorf("inspect config after recreating:\n%s\nwant\n%s", again, line)
	}
	c.ok("delete", "--name", "vch02", "--force")
	if _, err := os.Stat(filepath.Join(sh.Dir, "vch02", "ca.pem")); err != nil {
		t.Errorf("the default --cert-path ./NAME: %v", err)
	}

	// DHCP: create says where the address comes from; --no-tls: no
	// certificates, no DOCKER_TLS_VERIFY.
	out = c.ok("create", "--name", "vch03", "--compute-resource", "DC0_C0", "--image-store", "LocalDS_0", "--bridge-network", "DC0_DVPG1",
		"--no-tls", "--cert-path", filepath.Join(t.TempDir(), "none"))
	if !strings.Contains(out, "The endpoint's client address comes from DHCP") || !strings.HasSuffix(out, "\nexport DOCKER_HOST=tcp://ADDRESS:2375\n") {
		t.Errorf("create with DHCP and --no-tls printed %q", out)
	}
	c.fails(`--public-network-ip "10.0.0.5": give the endpoint's IPv4 address with its mask`, append([]string{"create", "--name", "vch04", "--compute-resource", "DC0_C0",
		"--image-store", "LocalDS_0", "--bridge-network", "DC0_DVPG0", "--public-network-ip", "10.0.0.5"}, base...)...)
	c.ok("delete", "--name", "vch03")
}
