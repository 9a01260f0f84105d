package main

import (
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// A DHCP ACK gives the NIC's address with its mask, the router as the
// default route and the DNS servers; one without a mask is refused.
func TestFromACK(t *testing.T) {
	ack, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(10, 0, 2, 15)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)), dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 0, 2, 2))),
		dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(10, 0, 2, 3), net.IPv4(10, 0, 2, 4))))
	if err != nil {
		t.Fatal(err)
	}
	res, dns, err := fromACK(ack)
	if err != nil {
		t.Fatal(err)
	}
	if res.addr != netip.MustParsePrefix("10.0.2.15/24") || !reflect.DeepEqual(res.routes, []route{{gw: netip.MustParseAddr("10.0.2.2")}}) ||
		!reflect.DeepEqual(dns, []netip.Addr{netip.MustParseAddr("10.0.2.3"), netip.MustParseAddr("10.0.2.4")}) {
		t.Errorf("lease %+v, dns %v", res, dns)
	}
	bare, _ := dhcpv4.New(dhcpv4.WithYourIP(net.IPv4(10, 0, 2, 15)))
	if _, _, err := fromACK(bare); err == nil {
		t.Error("an ACK without a mask was taken")
	}
}
