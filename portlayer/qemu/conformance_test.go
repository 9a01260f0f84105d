package qemu

import (
	"testing"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/computetest"
)

// TestConformance runs the shared compute suite against real QEMU VMs
// (TCG here; KVM where the probe passes). It needs root, QEMU and the
// kernel package; see realVM.
func TestConformance(t *testing.T) {
	computetest.Run(t, computetest.RootPerTest(func(t *testing.T, root string) compute.Provider {
		return newRealProvider(t, root)
	}), testImage, computetest.WithVolume(suiteVolume))
}

// TestNetworkConformance checks the "VM exited" notification with real
// VMs (the recorder gives no NICs, so no bridge is needed).
func TestNetworkConformance(t *testing.T) {
	computetest.RunNetwork(t, func(t *testing.T, na compute.NetworkAttacher) compute.Provider {
		return newRealProvider(t, t.TempDir(), func(c *Config) { c.Network = na })
	}, testImage)
}
