package tether

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/proto"
)

// inNetns runs f on a locked thread in a new network namespace with its
// loopback up; the thread is not reused afterwards.
func inNetns(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the firewall test needs root (a network namespace and nftables)")
	}
	done := make(chan struct{})
	var setupErr error
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			setupErr = err
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			setupErr = err
			return
		}
		f()
	}()
	<-done
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

// TestFirewallLevels applies each level to the loopback interface of a
// fresh network namespace (every packet there leaves and enters through
// lo, so both chains see it) and connects to two listeners: the rules are
// the kernel's, the traffic real.
func TestFirewallLevels(t *testing.T) {
	log := zaptest.NewLogger(t)
	for _, c := range []struct {
		fw         *proto.GuestFirewall
		open, shut bool // port A (published at level published) / port B reachable
	}{
		{fw: nil, open: true, shut: true},
		{fw: &proto.GuestFirewall{Level: proto.FirewallOpen}, open: true, shut: true},
		{fw: &proto.GuestFirewall{Level: proto.FirewallClosed}},
		{fw: &proto.GuestFirewall{Level: proto.FirewallOutbound}},
		{fw: &proto.GuestFirewall{Level: proto.FirewallPublished, Published: []proto.GuestPort{{Proto: "tcp", Port: 0}}}, open: true},
		{fw: &proto.GuestFirewall{Level: proto.FirewallPeers, Peers: []string{"127.0.0.0/8", "fd00::/64"}}, open: true, shut: true},
		{fw: &proto.GuestFirewall{Level: proto.FirewallPeers, Peers: []string{"10.0.0.0/8"}}},
	} {
		name := "none"
		if c.fw != nil {
			name = c.fw.Level + fmt.Sprint(c.fw.Peers)
		}
		t.Run(name, func(t *testing.T) {
			var errs []string
			inNetns(t, func() {
				fail := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
				g := &guestFirewall{nics: map[string]*proto.GuestFirewall{}}
				listen := func() (net.Listener, uint16) {
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						fail("listen: %v", err)
						return nil, 0
					}
					go func() {
						for {
							conn, err := ln.Accept()
							if err != nil {
								return
							}
							_, _ = io.WriteString(conn, "hi")
							conn.Close()
						}
					}()
					return ln, uint16(ln.Addr().(*net.TCPAddr).Port)
				}
				a, pa := listen()
				b, pb := listen()
				if a == nil || b == nil {
					return
				}
				defer a.Close()
				defer b.Close()
				fw := c.fw
				if fw != nil && fw.Level == proto.FirewallPublished {
					fw = &proto.GuestFirewall{Level: fw.Level, Published: []proto.GuestPort{{Proto: "tcp", Port: pa}}}
				}
				if err := g.set("lo", fw, log); err != nil {
					fail("set: %v", err)
					return
				}
				reach := func(port uint16) bool {
					conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 500*time.Millisecond)
					if err != nil {
						return false
					}
					defer conn.Close()
					_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
					got, _ := io.ReadAll(conn)
					return string(got) == "hi"
				}
				if got := reach(pa); got != c.open {
					fail("port A reachable: %v, want %v", got, c.open)
				}
				if got := reach(pb); got != c.shut {
					fail("port B reachable: %v, want %v", got, c.shut)
				}
				// Taking the NIC's firewall away removes the table.
				if err := g.set("lo", nil, log); err != nil {
					fail("unset: %v", err)
				}
				if !reach(pa) || !reach(pb) {
					fail("unreachable after the firewall was removed")
				}
				nc, err := nftables.New()
				if err != nil {
					fail("nftables: %v", err)
					return
				}
				tables, err := nc.ListTablesOfFamily(nftables.TableFamilyINet)
				if err != nil || len(tables) != 0 {
					fail("tables left: %v %v", tables, err)
				}
			})
			for _, e := range errs {
				t.Error(e)
			}
		})
	}
}
