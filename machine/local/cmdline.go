package local

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/vchproject/vch/machine/vchconfig"
)

// CommandLine is the vic-machine create command that makes a VCH like
// cfg's (what `vic-machine inspect config` prints, and what the seed's
// wizard summary offers to copy). Options at their defaults are left out;
// binaries are the installation's, not the VCH's, and are left out too.
func CommandLine(cfg *vchconfig.Config) []string {
	args := []string{"vic-machine", "create", "--name", cfg.Name}
	add := func(flag string, values ...string) {
		for _, v := range values {
			args = append(args, flag, v)
		}
	}
	on := func(flag string, b bool) {
		if b {
			args = append(args, flag)
		}
	}
	if base := filepath.Dir(cfg.Root); base != DefaultStateDir {
		add("--state-dir", base)
	}
	if host, port, err := net.SplitHostPort(cfg.APIAddr); err == nil {
		if port != fmt.Sprint(DefaultAPIPort) {
			add("--api-port", port)
		}
		if host != DefaultBind {
			add("--bind", host)
		}
	}
	if cfg.MemoryMB != 0 && cfg.MemoryMB != DefaultMemoryMB {
		add("--container-memory", fmt.Sprintf("%dM", cfg.MemoryMB))
	}
	if cfg.CPUs != 0 && cfg.CPUs != DefaultCPUs {
		add("--container-cpus", fmt.Sprint(cfg.CPUs))
	}
	if cfg.BaseImageSize != 0 && cfg.BaseImageSize != DefaultBaseImage {
		add("--base-image-size", formatSize(cfg.BaseImageSize))
	}
	implicit := len(cfg.VolumeStores) == 1 && cfg.VolumeStores[0].Path == filepath.Join(cfg.Root, "volumes") && cfg.VolumeStores[0].Label == "default"
	if !implicit {
		for _, s := range cfg.VolumeStores {
			add("--volume-store", s.Path+":"+s.Label)
		}
	}
	add("--bind-allow", cfg.BindAllow...)
	add("--tls-cname", cfg.TLSCNames...)
	add("--tls-ca", cfg.TLSCAFiles...)
	on("--no-tls", cfg.NoTLS)
	on("--no-tlsverify", cfg.NoTLSVerify)
	on("--debug", cfg.Debug)
	if cfg.ContainerNameConvention != "" {
		add("--container-name-convention", cfg.ContainerNameConvention)
	}
	if cfg.BridgeNetworkRange != "" && cfg.BridgeNetworkRange != DefaultBridgeRange {
		add("--bridge-network-range", cfg.BridgeNetworkRange)
	}
	if cfg.BridgeNetworkIPv6Range != "" {
		add("--bridge-network-ipv6-range", cfg.BridgeNetworkIPv6Range)
	}
	if l := cfg.Limits; !l.CPU.IsZero() {
		add("--cpu", l.CPU.String())
	}
	if l := cfg.Limits; !l.CPUReservation.IsZero() {
		add("--cpu-reservation", l.CPUReservation.String())
	}
	if cfg.Limits.CPUShares != "" {
		add("--cpu-shares", cfg.Limits.CPUShares)
	}
	if cfg.Limits.MemoryMB != 0 {
		add("--memory", fmt.Sprintf("%dMB", cfg.Limits.MemoryMB))
	}
	if cfg.Limits.MemoryReservation != 0 {
		add("--memory-reservation", fmt.Sprintf("%dMB", cfg.Limits.MemoryReservation))
	}
	if cfg.Limits.MemoryShares != "" {
		add("--memory-shares", cfg.Limits.MemoryShares)
	}
	if cfg.SyslogAddress != "" {
		add("--syslog-address", cfg.SyslogAddress)
	}
	for _, n := range cfg.ContainerNetworks {
		add("--container-network", n.Bridge+":"+n.Alias)
		add("--container-network-ip-range", n.Alias+":"+n.IPRange)
		add("--container-network-gateway", n.Alias+":"+n.Gateway)
		if n.Gateway6 != "" {
			add("--container-network-ip-range", n.Alias+":"+n.IPRange6)
			add("--container-network-gateway", n.Alias+":"+n.Gateway6)
		}
		for _, d := range n.DNS {
			add("--container-network-dns", n.Alias+":"+d)
		}
		if n.Firewall != "" && n.Firewall != vchconfig.DefaultFirewall {
			add("--container-network-firewall", n.Alias+":"+n.Firewall)
		}
	}
	add("--insecure-registry", cfg.Registry.Insecure...)
	add("--whitelist-registry", cfg.Registry.Whitelist...)
	add("--registry-mirror", cfg.Registry.Mirrors...)
	add("--registry-ca", cfg.RegistryCAFiles...)
	if cfg.Accel != "" && cfg.Accel != DefaultAccel {
		add("--accel", cfg.Accel)
	}
	if cfg.KernelDir != "" && cfg.KernelDir != DefaultKernelDir {
		add("--kernel-dir", cfg.KernelDir)
	}
	if cfg.TCGTBSizeMB != 0 {
		add("--tcg-tb-size", fmt.Sprint(cfg.TCGTBSizeMB))
	}
	if cfg.TCGTBSizeClonesMB != 0 {
		add("--tcg-tb-size-clones", fmt.Sprint(cfg.TCGTBSizeClonesMB))
	}
	if cfg.GuestMemory != "" {
		add("--guest-memory", cfg.GuestMemory)
	}
	on("--ksm", cfg.KSM)
	on("--vm-templates=false", !cfg.TemplatesOn())
	return args
}

// formatSize writes bytes with the largest binary unit that divides them.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.suffix)
		}
	}
	return fmt.Sprint(n)
}

// ShellQuote joins args for a POSIX shell, quoting where needed.
func ShellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
