package tether

import (
	"bufio"
	"fmt"
	"os"
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
