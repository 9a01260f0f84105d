package tether

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/proto"
)

// templateConsole is where a template VM's tether waits for its "go": the
// serial console, the only device a guest has before any virtio module is
// loaded.
const templateConsole = "/dev/ttyS0"

// cmdlineFlag reports a bare flag on the kernel command line.
func cmdlineFlag(flag string) bool {
	b, _ := os.ReadFile("/proc/cmdline")
	for _, f := range strings.Fields(string(b)) {
		if f == flag {
			return true
		}
	}
	return false
}

// goSignal is what the host sends to a paused template clone: its wall
// clock, so the clone's clock is right although the guest's boot clock
// ran in the template.
type goSignal struct {
	hostUnixNano int64
	atBoot       time.Duration // sinceBoot when the line arrived
}

// clock is the wall time now according to the signal.
func (g goSignal) clock(now time.Duration) int64 {
	return g.hostUnixNano + int64(now-g.atBoot)
}

// awaitGo is the template boot's pause point. Before any module is loaded
// (so no virtio device has been probed and every disk, port and NIC can be
// another at restore), the tether announces proto.TemplateReady on the
// console and blocks reading it. The host saves the VM while it waits here;
// each clone is restored into this read and released by a
// "go <host unix ns>" line.
func awaitGo(dev string) (goSignal, error) {
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return goSignal{}, fmt.Errorf("template console: %w", err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if tio, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		tio.Lflag &^= unix.ECHO | unix.ECHONL
		tio.Lflag |= unix.ICANON
		_ = unix.IoctlSetTermios(fd, unix.TCSETS, tio)
	}
	if _, err := f.WriteString("\n" + proto.TemplateReady + "\n"); err != nil {
		return goSignal{}, fmt.Errorf("template console: %w", err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if g, ok := parseGo(sc.Text()); ok {
			g.atBoot = sinceBoot()
			return g, nil
		}
	}
	return goSignal{}, fmt.Errorf("template console: closed before go: %v", sc.Err())
}

// parseGo reads a "go <unix ns>" line.
func parseGo(line string) (goSignal, bool) {
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != proto.TemplateGo {
		return goSignal{}, false
	}
	ns, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || ns <= 0 {
		return goSignal{}, false
	}
	return goSignal{hostUnixNano: ns}, true
}

// heldBuses are the buses whose drivers a template boot keeps from binding
// devices: virtio-mmio transports sit on the platform bus (microvm), virtio
// PCI functions on the pci bus. A bus the guest lacks is skipped.
var heldBuses = []string{"/sys/bus/platform", "/sys/bus/pci"}

// holdProbes turns driver autoprobe off on the held buses, before a
// template loads its modules: virtio_mmio (and virtio_pci) then load and
// register their drivers without binding a transport device, so no virtio
// device exists, nothing is reset or probed, and every disk, port and NIC
// can be another file or backend in each clone. Only the module loading
// (code relocation under TCG) happens before the save.
func holdProbes(buses []string) error {
	for _, bus := range buses {
		p := filepath.Join(bus, "drivers_autoprobe")
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := os.WriteFile(p, []byte("0"), 0); err != nil {
			return fmt.Errorf("template: hold probes on %s: %w", bus, err)
		}
	}
	return nil
}

// releaseProbes is the clone's side of holdProbes: autoprobe back on, and
// every device that has no driver yet is offered to the drivers. The
// virtio transport resets each device as it registers it (so a NIC's MAC
// is the clone's own), and the device drivers probe the clone's disks,
// ports and NICs. It returns how many devices it offered.
func releaseProbes(buses []string) (int, error) {
	n := 0
	for _, bus := range buses {
		p := filepath.Join(bus, "drivers_autoprobe")
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := os.WriteFile(p, []byte("1"), 0); err != nil {
			return n, fmt.Errorf("clone: release probes on %s: %w", bus, err)
		}
		devs, err := os.ReadDir(filepath.Join(bus, "devices"))
		if err != nil {
			return n, fmt.Errorf("clone: %s devices: %w", bus, err)
		}
		for _, d := range devs {
			if _, err := os.Lstat(filepath.Join(bus, "devices", d.Name(), "driver")); err == nil {
				continue
			}
			n++
			// No driver for it (an RTC, a PNP stub) is not an error of
			// ours: the kernel answers 0 and leaves it unbound.
			_ = os.WriteFile(filepath.Join(bus, "drivers_probe"), []byte(d.Name()), 0)
		}
	}
	return n, nil
}
