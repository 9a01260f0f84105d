package tether

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/errdefs"
)

// findByName scans dirs under sysDir (e.g. /sys/block/vd*) and returns, for
// each entry whose attr file (serial, name) holds one of the wanted values,
// the entry's name.
func findByName(pattern, attr string) (map[string]string, error) {
	entries, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(e, attr))
		if err != nil {
			continue
		}
		out[strings.TrimSpace(string(b))] = filepath.Base(e)
	}
	return out, nil
}

// waitFor polls find until it reports every wanted value or timeout passes;
// it returns what it found last. Devices appear asynchronously after module
// load (virtio-serial ports are announced by the host).
func waitFor(find func() (map[string]string, error), want []string, timeout time.Duration) (map[string]string, error) {
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		got, err := find()
		if err != nil {
			return nil, err
		}
		missing := ""
		for _, w := range want {
			if _, ok := got[w]; !ok {
				missing = w
				break
			}
		}
		if missing == "" {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("device %q did not appear within %v: %w", missing, timeout, errdefs.ErrNotFound)
		}
		time.Sleep(delay)
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// devNode returns /dev/<name>, creating the node from sysDir/dev
// ("major:minor") if devtmpfs has not made it yet.
func devNode(sysDir, name string, mode uint32) (string, error) {
	p := "/dev/" + name
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	b, err := os.ReadFile(filepath.Join(sysDir, "dev"))
	if err != nil {
		return "", fmt.Errorf("device %s: %w", name, err)
	}
	maj, min, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		return "", fmt.Errorf("device %s: bad dev %q", name, b)
	}
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return "", fmt.Errorf("device %s: %w", name, err)
	}
	err = unix.Mknod(p, mode|0o600, int(unix.Mkdev(uint32(ma), uint32(mi))))
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return "", fmt.Errorf("mknod %s: %w", p, err)
	}
	return p, nil
}

// openPort opens a virtio-serial port by name in blocking mode (not through
// the Go poller: a port reads EOF while the host is away and writes block
// until it is back).
func openPort(dev string) (*os.File, error) {
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dev, err)
	}
	return os.NewFile(uintptr(fd), dev), nil
}
