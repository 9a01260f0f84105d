package qemu

import (
	"fmt"
	"os"
)

// BusyboxImage is the image ID Example boots.
const BusyboxImage = testImage

// VMAssets gives examples the kernel, initramfs and busybox image that
// realVM builds for the tests; it exits the test binary if they cannot be
// made, since an example has no *testing.T to fail.
func VMAssets() (kernel, initrd string, img images) {
	envOnce.Do(func() { envVal, envErr = buildEnv() })
	if envErr != nil {
		fmt.Fprintln(os.Stderr, "example environment:", envErr)
		os.Exit(1)
	}
	return envVal.kernel, envVal.initrd, images{testImage: envVal.rootfs}
}
