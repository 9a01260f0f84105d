package sysinfo

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vchproject/vch/bench/report"
)

// Probe fills what it can of a report.Machine.
func Probe(ctx context.Context) report.Machine {
	m := report.Machine{Cores: runtime.NumCPU()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(data)
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryMiB = memTotalKiB(data) / 1024
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	m.QEMU = firstLine(ctx, "qemu-system-x86_64", "--version")
	m.Dockerd = firstLine(ctx, "dockerd", "--version")
	m.Containerd = firstLine(ctx, "containerd", "--version")
	m.Runc = firstLine(ctx, "runc", "--version")
	m.DockerCLI = firstLine(ctx, "docker", "--version")
	return m
}

func cpuModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotalKiB(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

func firstLine(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// Accel returns the accelerator named on a QEMU command line (NUL-separated,
// as in /proc/<pid>/cmdline): "kvm" or "tcg", or "" if it names none.
// It understands -accel X[,opts], -machine/-M …,accel=X and -enable-kvm.
func Accel(cmdline []byte) string {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	accel := ""
	for i, a := range args {
		next := ""
		if i+1 < len(args) {
			next = args[i+1]
		}
		switch a {
		case "-enable-kvm":
			accel = "kvm"
		case "-accel", "--accel":
			name, _, _ := strings.Cut(next, ",")
			if v, ok := strings.CutPrefix(name, "accel="); ok {
				name = v
			}
			accel = name
		case "-machine", "-M", "--machine":
			for _, opt := range strings.Split(next, ",") {
				if v, ok := strings.CutPrefix(opt, "accel="); ok {
					accel, _, _ = strings.Cut(v, ":") // "kvm:tcg" means kvm first
				}
			}
		}
	}
	return accel
}
