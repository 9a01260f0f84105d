package container

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/errdefs"
)

// parseSignal reads a signal as docker does: a number, or a name with or
// without "SIG", in any case. Container VMs run Linux, so Linux numbers.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.InvalidParameter(fmt.Sprintf("Invalid signal: %s", s))
		}
		return syscall.Signal(n), nil
	}
	sig := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(s), "SIG"))
	if sig == 0 {
		return 0, errdefs.InvalidParameter(fmt.Sprintf("Invalid signal: %s", s))
	}
	return sig, nil
}
