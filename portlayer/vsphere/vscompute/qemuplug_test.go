package vscompute_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
)

// TestQEMUHostHotPlugsANIC: docker network connect and disconnect of a
// running container VM under vsimtest.QEMUHost, as on ESXi: PlugNIC's
// reconfigure hot-adds a vmxnet3 NIC on a port group (the host's
// device_add over QMP, an ACPI PCI hot-plug), the tether gives it its
// address, and a station on the port group's switch gets an ARP reply
// from the NIC's MAC for that address; UnplugNIC parks the NIC and its
// reconfigure removes it, and the guest ejects it (its MAC leaves
// /sys/class/net). (It boots a VM under TCG: hold the VM lock.)
func TestQEMUHostHotPlugsANIC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	e := newQEMUEnv(ctx, t, "vsplug")
	p := e.p
	id := hexID('a')
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	s := compute.Spec{ID: id, Name: "vsplug", Image: e.image, Process: compute.Process{
		Args: []string{"sh", "-c", "while :; do sleep 1; done"}, Env: env}}
	if err := p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			if console, err := e.host.HostPath(ctx, "[LocalDS_0] vsplug/"+vscompute.ConsoleFile); err == nil {
				b, _ := os.ReadFile(console)
				t.Logf("console:\n%s", b)
			}
		}
		_ = p.Kill(context.WithoutCancel(ctx), id)
		if err := p.Remove(context.WithoutCancel(ctx), id); err != nil {
			t.Error(err)
		}
	}()
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	// macs lists the guest's NICs' MACs. A NIC the kernel is
	// unregistering (ejected, not yet gone from sysfs) refuses to give its
	// address (EINVAL): it counts as gone.
	macs := func() string {
		t.Helper()
		var out, errOut bytes.Buffer
		script := `for f in /sys/class/net/*/address; do cat "$f" 2>/dev/null; done; exit 0`
		proc, err := p.Exec(ctx, id, compute.ExecConfig{Args: []string{"sh", "-c", script}, Env: env, Stdout: &out, Stderr: &errOut})
		if err != nil {
			t.Fatal(err)
		}
		if code, err := proc.Wait(ctx); err != nil || code != 0 {
			t.Fatalf("exec: %d %v, stderr %q", code, err, errOut.String())
		}
		return out.String()
	}

	const pg = "VM Network"
	guest := netip.MustParseAddr("10.91.0.2")
	var mac string
	t0 := time.Now()
	if err := p.PlugNIC(ctx, id, func(m string) (compute.NIC, error) {
		mac = m
		return compute.NIC{Network: "back", Bridge: pg, MAC: m, Address: netip.PrefixFrom(guest, 24)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("PlugNIC (reconfigure, hot-add, the tether's configuration): %s", time.Since(t0))
	if got := macs(); !strings.Contains(got, mac) {
		t.Fatalf("the guest's NICs after plug lack %s:\n%s", mac, got)
	}

	// A station on the port group asks who has the guest's address.
	addr, err := e.host.Switch(pg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	me := net.HardwareAddr{0x02, 0, 0, 0x91, 0, 1}
	myIP := netip.MustParseAddr("10.91.0.1")
	replies := make(chan net.HardwareAddr, 1)
	go func() {
		for {
			f, err := readFrame(st)
			if err != nil {
				return
			}
			if sha, ok := arpReply(f, guest, myIP); ok {
				replies <- sha
				return
			}
		}
	}()
	var from net.HardwareAddr
	for from == nil {
		if err := writeFrame(st, arpRequest(me, myIP, guest)); err != nil {
			t.Fatal(err)
		}
		select {
		case from = <-replies:
		case <-time.After(time.Second):
		case <-ctx.Done():
			t.Fatal("no ARP reply from the hot-added NIC")
		}
	}
	if !strings.EqualFold(from.String(), mac) {
		t.Fatalf("ARP reply from %s, want the hot-added NIC's %s", from, mac)
	}

	if err := p.UnplugNIC(ctx, id, mac); err != nil {
		t.Fatal(err)
	}
	// The guest ejects the NIC once the host's device_del reaches it.
	for {
		got := macs()
		if !strings.Contains(got, mac) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the guest still has %s after UnplugNIC:\n%s", mac, got)
		case <-time.After(500 * time.Millisecond):
		}
	}
	if n := e.host.Boots("vsplug"); n != 1 {
		t.Fatalf("%d boots, want 1", n)
	}
}

// writeFrame sends an Ethernet frame in QEMU's socket framing (a 4-byte
// big-endian length, then the frame).
func writeFrame(w io.Writer, f []byte) error {
	_, err := w.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(f))), f...))
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	f := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err := io.ReadFull(r, f)
	return f, err
}

// arpRequest is a broadcast ARP request from (mac, ip) for target.
func arpRequest(mac net.HardwareAddr, ip, target netip.Addr) []byte {
	f := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac...)
	f = append(f, 0x08, 0x06, // ARP
		0, 1, 0x08, 0x00, 6, 4, 0, 1) // Ethernet, IPv4, request
	f = append(f, mac...)
	f = append(f, ip.AsSlice()...)
	f = append(f, 0, 0, 0, 0, 0, 0)
	return append(f, target.AsSlice()...)
}

// arpReply is the sender MAC of f if f is an ARP reply telling to that
// from has it.
func arpReply(f []byte, from, to netip.Addr) (net.HardwareAddr, bool) {
	if len(f) < 42 || f[12] != 0x08 || f[13] != 0x06 || f[20] != 0 || f[21] != 2 {
		return nil, false
	}
	spa, _ := netip.AddrFromSlice(f[28:32])
	tpa, _ := netip.AddrFromSlice(f[38:42])
	if spa != from || tpa != to {
		return nil, false
	}
	return net.HardwareAddr(append([]byte{}, f[22:28]...)), true
}
