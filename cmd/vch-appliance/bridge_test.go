package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/tests/fixture"
)

// The leg's address is the bridge subnet's gateway with the subnet's
// length (network.BridgeSubnet), the NAT covers the whole range; a config
// without the MAC has no leg, a bad MAC or range is an error.
func TestPlanLeg(t *testing.T) {
	for _, c := range []struct {
		name, mac, rng string
		ok, fails      bool
		addr, nat      string
	}{
		{name: "default range", mac: "00:50:56:01:02:05", ok: true, addr: "172.16.0.1/16", nat: "172.16.0.0/12"},
		{name: "large range", mac: "00:50:56:01:02:05", rng: "10.0.0.0/8", ok: true, addr: "10.0.0.1/16", nat: "10.0.0.0/8"},
		{name: "small range", mac: "00:50:56:01:02:05", rng: "192.168.7.0/24", ok: true, addr: "192.168.7.1/24", nat: "[192.168.7.0/24 172.16.0.0/12]"},
		{name: "no MAC", rng: "10.0.0.0/8"},
		{name: "bad MAC", mac: "00:50:56", fails: true},
		{name: "bad range", mac: "00:50:56:01:02:05", rng: "10.0.0.0", fails: true},
		{name: "IPv6 range", mac: "00:50:56:01:02:05", rng: "fd00::/48", fails: true},
		{name: "no room", mac: "00:50:56:01:02:05", rng: "10.0.0.4/31", fails: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ok, err := planLeg(&vice.Config{Network: vice.Network{BridgeMAC: c.mac, BridgeRange: c.rng}})
			if (err != nil) != c.fails || ok != c.ok {
				t.Fatalf("ok %v, err %v", ok, err)
			}
			if ok && (p.addr.String() != c.addr || natString(p.nats) != c.nat || p.mac.String() != c.mac) {
				t.Errorf("plan %+v, want address %s, NAT %s, MAC %s", p, c.addr, c.nat, c.mac)
			}
		})
	}
}

func natString(nats []netip.Prefix) string {
	if len(nats) == 1 {
		return nats[0].String()
	}
	return fmt.Sprint(nats)
}

// The isolation rule drops what goes from one range to another.
func TestIsolationRule(t *testing.T) {
	r := isolationRule(netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("10.50.0.0/16"))
	if len(r) != 7 {
		t.Fatalf("rule %#v", r)
	}
	src, _ := r[0].(*expr.Payload)
	srcNet, _ := r[2].(*expr.Cmp)
	dst, _ := r[3].(*expr.Payload)
	mask, _ := r[4].(*expr.Bitwise)
	dstNet, _ := r[5].(*expr.Cmp)
	v, _ := r[6].(*expr.Verdict)
	if src == nil || src.Offset != 12 || srcNet == nil || !bytes.Equal(srcNet.Data, []byte{172, 16, 0, 0}) {
		t.Errorf("source match %#v %#v", r[0], r[2])
	}
	if dst == nil || dst.Offset != 16 || mask == nil || !bytes.Equal(mask.Mask, []byte{255, 255, 0, 0}) || dstNet == nil || !bytes.Equal(dstNet.Data, []byte{10, 50, 0, 0}) {
		t.Errorf("destination match %#v %#v %#v", r[3], r[4], r[5])
	}
	if v == nil || v.Kind != expr.VerdictDrop {
		t.Errorf("verdict %#v", r[6])
	}
}

// The masquerade rule matches the range's sources (the mask taken from
// the prefix) leaving by any interface but the leg.
func TestMasqueradeRule(t *testing.T) {
	r := masqueradeRule("eth1", netip.MustParsePrefix("172.16.9.0/12"))
	if len(r) != 6 {
		t.Fatalf("rule %#v", r)
	}
	src, _ := r[0].(*expr.Payload)
	bw, _ := r[1].(*expr.Bitwise)
	addr, _ := r[2].(*expr.Cmp)
	meta, _ := r[3].(*expr.Meta)
	oif, _ := r[4].(*expr.Cmp)
	if src == nil || src.Base != expr.PayloadBaseNetworkHeader || src.Offset != 12 || src.Len != 4 {
		t.Errorf("source address load %#v", r[0])
	}
	if bw == nil || !bytes.Equal(bw.Mask, []byte{255, 240, 0, 0}) || addr == nil || addr.Op != expr.CmpOpEq || !bytes.Equal(addr.Data, []byte{172, 16, 0, 0}) {
		t.Errorf("range match %#v %#v", r[1], r[2])
	}
	if meta == nil || meta.Key != expr.MetaKeyOIFNAME || oif == nil || oif.Op != expr.CmpOpNeq || string(bytes.TrimRight(oif.Data, "\x00")) != "eth1" || len(oif.Data) != 16 {
		t.Errorf("output interface match %#v %#v", r[3], r[4])
	}
	if _, ok := r[5].(*expr.Masq); !ok {
		t.Errorf("verdict %#v", r[5])
	}
}

// Without the bridge MAC in the config, or without a NIC that has it,
// the appliance warns and goes on without a leg.
func TestSetupLegWithoutLeg(t *testing.T) {
	for _, mac := range []string{"", "00:50:56:3f:ee:01"} {
		core, logs := observer.New(zapcore.InfoLevel)
		if err := setupLeg(&vice.Config{Network: vice.Network{BridgeMAC: mac}}, 0, zap.New(core)); err != nil {
			t.Errorf("MAC %q: %v", mac, err)
		}
		if w := logs.FilterLevelExact(zapcore.WarnLevel).All(); len(w) != 1 || !strings.Contains(w[0].Message, "bridge leg") {
			t.Errorf("MAC %q: logged %v", mac, logs.All())
		}
	}
}

// TestBridgeLegNAT runs setupLeg in a network namespace standing in for
// the endpoint VM ("ep"), between a container ("ctr", 172.16.0.2/16 on the
// bridge, default route 172.16.0.1) and the outside ("out",
// 10.99.0.2/24, reached through ep's uplink 10.99.0.1/24). ep starts with
// forwarding off; out routes the bridge range back to ep, so without the
// masquerade a connection would arrive from 172.16.0.2. The listener in
// out must see ep's uplink address. All traffic stays in the namespaces.
func TestBridgeLegNAT(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the bridge leg test needs root (network namespaces and nftables)")
	}
	ns := map[string]*fixture.Netns{}
	for _, name := range []string{"ctr", "ep", "out"} {
		n, err := fixture.NewNetns("leg-" + name)
		if err != nil {
			t.Fatal(err)
		}
		ns[name] = n
		t.Cleanup(func() {
			if err := n.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	ctr, ep, out := ns["ctr"], ns["ep"], ns["out"]
	const legMAC = "00:50:56:3f:10:01"
	for _, cmd := range []struct {
		in   *fixture.Netns
		args []string
	}{
		{ep, []string{"link", "add", "legbr", "address", legMAC, "type", "veth", "peer", "name", "eth0", "netns", ctr.Name}},
		{ep, []string{"link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", out.Name}},
		{ep, []string{"addr", "add", "10.99.0.1/24", "dev", "uplink"}},
		{ep, []string{"link", "set", "uplink", "up"}},
		{ctr, []string{"addr", "add", "172.16.0.2/16", "dev", "eth0"}},
		{ctr, []string{"link", "set", "eth0", "up"}},
		{ctr, []string{"route", "add", "default", "via", "172.16.0.1"}},
		{out, []string{"addr", "add", "10.99.0.2/24", "dev", "eth0"}},
		{out, []string{"link", "set", "eth0", "up"}},
		{out, []string{"route", "add", "172.16.0.0/12", "via", "10.99.0.1"}},
	} {
		if _, err := cmd.in.Run("ip", cmd.args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ep.Run("sysctl", "-qw", "net.ipv4.ip_forward=0"); err != nil {
		t.Fatal(err)
	}

	// The appliance's step, twice (a second run replaces what the first
	// made).
	core, logs := observer.New(zapcore.InfoLevel)
	c := &vice.Config{Network: vice.Network{BridgeMAC: legMAC, BridgeRange: "172.16.0.0/12"}}
	for i := 0; i < 2; i++ {
		if err := ep.Do(func() error { return setupLeg(c, time.Second, zap.New(core)) }); err != nil {
			t.Fatal(err)
		}
	}
	up := logs.FilterMessage("bridge leg up").All()
	if len(up) != 2 || up[0].ContextMap()["address"] != "172.16.0.1/16" || up[0].ContextMap()["nic"] != "legbr" {
		t.Errorf("logged %v", logs.All())
	}
	if got, err := ep.Run("cat", "/proc/sys/net/ipv4/ip_forward"); err != nil || strings.TrimSpace(got) != "1" {
		t.Errorf("ep's ip_forward: %q %v", got, err)
	}
	var tables []*nftables.Table
	err := ep.Do(func() error {
		nc, err := nftables.New()
		if err == nil {
			tables, err = nc.ListTablesOfFamily(nftables.TableFamilyIPv4)
		}
		return err
	})
	if err != nil || len(tables) != 1 || tables[0].Name != natTable {
		t.Errorf("ep's ip tables: %v %v", tables, err)
	}
	// Nothing of it reached the test's own namespace.
	if nc, err := nftables.New(); err != nil {
		t.Error(err)
	} else if host, err := nc.ListTablesOfFamily(nftables.TableFamilyIPv4); err != nil {
		t.Error(err)
	} else {
		for _, tb := range host {
			if tb.Name == natTable {
				t.Errorf("table ip %s in the test's namespace", natTable)
			}
		}
	}

	// ctr connects out; the listener reports the peer it saw.
	ln, err := out.Listen("tcp", "10.99.0.2:47100")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(conn, conn.RemoteAddr().(*net.TCPAddr).IP.String())
			conn.Close()
		}
	}()
	var peer []byte
	err = ctr.Do(func() error {
		conn, err := net.DialTimeout("tcp", "10.99.0.2:47100", 10*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		peer, err = io.ReadAll(conn)
		return err
	})
	if err != nil {
		t.Fatalf("ctr to out through ep: %v", err)
	}
	if string(peer) != "10.99.0.1" {
		t.Errorf("out saw the connection from %q, want ep's uplink 10.99.0.1 (masqueraded)", peer)
	}
}
