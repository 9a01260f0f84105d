package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNetworking drives one VCH in its own network namespace through the
// docker CLI: lo and eth0 in the guest, the bridge network with NAT,
// publishing, bookkeeping, and nothing left after vic-machine delete.
func TestNetworking(t *testing.T) {
	pulled(t)
	v := newNetVCH(t)
	img := env.busybox
	v.must(t, "pull", img)

	t.Run("LoopbackAndNIC", func(t *testing.T) {
		// lo is up (IFF_UP) with and without a network.
		for _, args := range [][]string{{"--network", "none"}, {}} {
			r := v.docker(t, append(append([]string{"run", "--rm"}, args...), img, "sh", "-c",
				"cat /sys/class/net/lo/flags; ls /sys/class/net | tr '\\n' ' '; ip -o -4 addr show; ip route")...)
			if r.Exit != 0 || !strings.HasPrefix(r.Stdout, "0x9\n") {
				t.Fatalf("lo with %v: %s", args, r)
			}
			hasEth := strings.Contains(r.Stdout, "eth0")
			if len(args) > 0 && hasEth || len(args) == 0 && (!hasEth || !strings.Contains(r.Stdout, "172.16.0.") || !strings.Contains(r.Stdout, "default via 172.16.0.1")) {
				t.Fatalf("interfaces with %v: %s", args, r)
			}
		}
	})
	_ = json.Marshal
	_ = os.Stat
	_ = exec.Command
	_ = filepath.Join
}
