package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vchproject/vch/machine/local"
	"github.com/vchproject/vch/machine/vchconfig"
)

// configOf is the config a create with args writes (stores as create
// prepares them).
func configOf(t *testing.T, args []string) *vchconfig.Config {
	t.Helper()
	o, err := parseCreate(args)
	if err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	root := filepath.Join(local.StateDir(o.StateDir), o.Name)
	stores := o.VolumeStores
	if len(stores) == 0 {
		stores = []vchconfig.VolumeStore{{Path: filepath.Join(root, "volumes"), Label: "default"}}
	}
	return local.ConfigFor(o, root, stores)
}

// inspect config prints a create command line that makes the same VCH.
func TestInspectConfigRecreates(t *testing.T) {
	for _, args := range [][]string{
		{"--name", "plain", "--state-dir", "/srv/vch"},
		{"--name", "full", "--state-dir", "/srv/vch", "--api-port", "2380", "--bind", "127.0.0.1", "--container-memory", "1G",
			"--container-cpus", "2", "--base-image-size", "2G", "--volume-store", "/data/vols:default", "--volume-store", "/data/other vols:other",
			"--tls-cname", "vch.example.com", "--tls-ca", "/etc/ssl/team ca.pem", "--no-tlsverify", "--debug", "--container-name-convention", "team-{name}-{id}", "--bridge-network-range", "10.10.0.0/16",
			"--insecure-registry", "10.0.0.0/8", "--whitelist-registry", "*.example.com", "--registry-mirror", "https://mirror.example.com",
			"--registry-ca", "/etc/ssl/reg ca.pem", "--accel", "tcg", "--kernel-dir", "/opt/kernel", "--bind-allow", "/srv/data", "--bind-allow", "/home/shared dir"},
		{"--name", "notls", "--state-dir", "/srv/vch", "--no-tls", "--base-image-size", "1536M"},
		{"--name", "limits", "--state-dir", "/srv/vch", "--cpu", "2000", "--cpu-reservation", "0.5cores", "--cpu-shares", "low",
			"--memory", "4G", "--memory-reservation", "512", "--memory-shares", "3000", "--syslog-address", "tcp://10.0.0.1:6514"},
		{"--name", "cores", "--state-dir", "/srv/vch", "--cpu", "1.25cores", "--cpu-reservation", "1GHz", "--memory-shares", "high"},
		{"--name", "tuned", "--state-dir", "/srv/vch", "--tcg-tb-size", "32", "--tcg-tb-size-clones", "8", "--guest-memory", "memfd", "--ksm", "--vm-templates=false"},
		{"--name", "direct", "--state-dir", "/srv/vch", "--container-network", "br-pub:public", "--container-network-ip-range", "public:10.3.0.10-10.3.0.99",
			"--container-network-gateway", "public:10.3.0.1/24", "--container-network-dns", "public:10.3.0.2", "--container-network-dns", "public:10.3.0.3",
			"--container-network", "br-lab", "--container-network-ip-range", "br-lab:10.4.0.10-10.4.0.20", "--container-network-gateway", "br-lab:10.4.0.1/24",
			"--container-network-firewall", "br-lab:peers"},
	} {
		want := configOf(t, args)
		line := local.CommandLine(want)
		if line[0] != "vic-machine" || line[1] != "create" {
			t.Fatalf("command line %q", line)
		}
		got := configOf(t, line[2:])
		if !reflect.DeepEqual(got, want) {
			t.Errorf("create %q\nprints %q\nwhich makes %+v\nnot %+v", args, line, got, want)
		}
		quoted := local.ShellQuote(line)
		if strings.Contains(strings.Join(args, " "), "other vols") && !strings.Contains(quoted, "'/data/other vols:other'") {
			t.Errorf("not quoted for a shell: %s", quoted)
		}
	}
}

// A bad flag is one line that says what to do; nothing else happens.
func TestBadFlagsOneLine(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"--api-port", "x"}, {"stray"}, {"--container-memory", "lots"},
		{"--cpu", "fast"}, {"--memory", "-1"}, {"--cpu-shares", "medium"}, {"--memory-reservation", "2X"}, {"--syslog-address", "10.0.0.1:514"}} {
		_, err := parseCreate(args)
		if err == nil {
			t.Fatalf("create %q accepted", args)
		}
		if msg := err.Error(); strings.Contains(msg, "\n") {
			t.Errorf("create %q: more than one line: %q", args, msg)
		}
	}
}

// The limit flags land in the config in their canonical units.
func TestLimitFlags(t *testing.T) {
	c := configOf(t, []string{"--name", "l", "--cpu", "2.5GHz", "--memory", "2G", "--cpu-shares", "normal", "--memory-shares", "HIGH"})
	want := vchconfig.Limits{CPU: vchconfig.CPU{MHz: 2500}, MemoryMB: 2048, MemoryShares: "high"}
	if c.Limits != want {
		t.Errorf("limits %+v, want %+v", c.Limits, want)
	}
}

// Templates are on by default and written to the config as such;
// --vm-templates=false turns them off, and inspect config prints that.
func TestVMTemplatesFlag(t *testing.T) {
	on := configOf(t, []string{"--name", "d"})
	if on.Templates == nil || !*on.Templates {
		t.Fatalf("default create: templates %v, want an explicit true", on.Templates)
	}
	if line := strings.Join(local.CommandLine(on), " "); strings.Contains(line, "templates") {
		t.Errorf("default VCH prints %q", line)
	}
	off := configOf(t, []string{"--name", "d", "--vm-templates=false"})
	if off.TemplatesOn() {
		t.Fatal("--vm-templates=false left templates on")
	}
	if line := strings.Join(local.CommandLine(off), " "); !strings.Contains(line, " --vm-templates=false") {
		t.Errorf("VCH without templates prints %q", line)
	}
}
