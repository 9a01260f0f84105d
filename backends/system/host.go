package system

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// host facts; zero values when the kernel does not tell.
type hostInfo struct {
	ncpu     int
	memTotal int64
	kernel   string
}

func readHost() hostInfo {
	h := hostInfo{ncpu: runtime.NumCPU()}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		h.memTotal = int64(si.Totalram) * int64(si.Unit)
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.kernel = unix.ByteSliceToString(u.Release[:])
	}
	return h
}

// dockerArch is docker's name for the host architecture.
func dockerArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}
