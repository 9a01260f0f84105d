package guestos

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// inNetns runs fn on a locked thread in a new network namespace.
func inNetns(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		orig, err := netns.Get()
		if err != nil {
			t.Error(err)
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			t.Errorf("new netns (needs root): %v", err)
			return
		}
		defer ns.Close()
		fn()
	}()
	<-done
}

// AddrUp finds a NIC by MAC, gives it the address and brings it up (an
// equal address again is fine); AddrsDown takes it off and sets the NIC
// down; a MAC no NIC has times out for AddrUp and is no error for
// AddrsDown.
func TestAddrUpDown(t *testing.T) {
	inNetns(t, func() {
		const mac = "00:50:56:12:34:56"
		hw, _ := net.ParseMAC(mac)
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "leg0", HardwareAddr: hw}, PeerName: "leg1"}); err != nil {
			t.Error(err)
			return
		}
		addr := netip.MustParsePrefix("172.17.0.1/16")
		for i := 0; i < 2; i++ {
			if err := AddrUp(mac, addr, time.Second); err != nil {
				t.Error(err)
				return
			}
		}
		link, err := netlink.LinkByName("leg0")
		if err != nil {
			t.Error(err)
			return
		}
		addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IPNet.String() != "172.17.0.1/16" || link.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("after AddrUp: %v, flags %v", addrs, link.Attrs().Flags)
		}
		if err := AddrsDown(mac); err != nil {
			t.Error(err)
		}
		link, _ = netlink.LinkByName("leg0")
		addrs, _ = netlink.AddrList(link, netlink.FAMILY_V4)
		if len(addrs) != 0 || link.Attrs().Flags&net.FlagUp != 0 {
			t.Errorf("after AddrsDown: %v, flags %v", addrs, link.Attrs().Flags)
		}
		if err := AddrUp("00:50:56:00:00:01", addr, 200*time.Millisecond); err == nil {
			t.Error("AddrUp of a MAC no NIC has succeeded")
		}
		if err := AddrsDown("00:50:56:00:00:01"); err != nil {
			t.Errorf("AddrsDown of a MAC no NIC has: %v", err)
		}
	})
}
