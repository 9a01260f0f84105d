package sysinfo

import (
	"context"
	"strings"
	"testing"
)

func TestAccel(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"tcg with options", []string{"qemu-system-x86_64", "-accel", "tcg,tb-size=64", "-M", "microvm"}, "tcg"},
		{"kvm", []string{"qemu", "-accel", "kvm"}, "kvm"},
		{"enable-kvm", []string{"qemu", "-enable-kvm", "-m", "128"}, "kvm"},
		{"machine accel", []string{"qemu", "-machine", "microvm,accel=tcg"}, "tcg"},
		{"machine accel list", []string{"qemu", "-M", "q35,accel=kvm:tcg"}, "kvm"},
		{"none", []string{"qemu", "-m", "128"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmdline := []byte(strings.Join(c.args, "\x00") + "\x00")
			if got := Accel(cmdline); got != c.want {
				t.Fatalf("Accel(%q) = %q, want %q", c.args, got, c.want)
			}
		})
	}
}

func TestParsers(t *testing.T) {
	if got := cpuModel([]byte("processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\n")); got != "Some CPU @ 2.0GHz" {
		t.Fatalf("cpuModel = %q", got)
	}
	if got := memTotalKiB([]byte("MemTotal:       24576000 kB\nMemFree: 1 kB\n")); got != 24576000 {
		t.Fatalf("memTotalKiB = %d", got)
	}
}

// TestProbe runs the real probes: this machine has a CPU, a kernel and the
// QEMU and Docker Engine packages the benchmark needs.
func TestProbe(t *testing.T) {
	m := Probe(context.Background())
	if m.CPU == "" || m.Cores < 1 || m.MemoryMiB <= 0 || m.Kernel == "" {
		t.Fatalf("machine probe incomplete: %+v", m)
	}
	if !strings.Contains(m.QEMU, "QEMU") || !strings.Contains(m.Dockerd, "Docker") {
		t.Fatalf("versions: qemu %q dockerd %q", m.QEMU, m.Dockerd)
	}
}
