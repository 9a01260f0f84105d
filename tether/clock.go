package tether

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// sinceBoot is the time since the kernel started (CLOCK_BOOTTIME).
func sinceBoot() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// bootClock is the wall time to set at boot: the host's clock just before
// QEMU started plus the guest's time since boot.
func bootClock(launchUnixNano int64, sinceBoot time.Duration) int64 {
	return launchUnixNano + int64(sinceBoot)
}

// setClock sets the guest's wall clock.
func setClock(unixNano int64) error {
	ts := unix.NsecToTimespec(unixNano)
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("set clock: %w", err)
	}
	return nil
}
