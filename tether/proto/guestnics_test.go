package proto

import (
	"encoding/base64"
	"reflect"
	"testing"
)

func TestParseGuestNICs(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		name, raw string
		want      []Interface
		bad       bool
	}{
		{name: "empty", raw: ""},
		{name: "none", raw: enc(`[]`), want: []Interface{}},
		{name: "two", raw: enc(`[{"Network":"bridge","Bridge":"DC0_DVPG0","MAC":"02:42:AC:10:00:02","Address":"172.16.0.2/16","Gateway":"172.16.0.1","Address6":"","Gateway6":"","DNS":["172.16.0.1"],"MTU":1500},` +
			`{"MAC":"02:42:0a:09:00:64","Address":"10.9.0.100/24","Gateway":"","Address6":"fd00::64/64","Gateway6":"fd00::1"}]`),
			want: []Interface{
				{MAC: "02:42:ac:10:00:02", Address: "172.16.0.2/16", Gateway: "172.16.0.1", MTU: 1500, DNS: []string{"172.16.0.1"}},
				{MAC: "02:42:0a:09:00:64", Address: "10.9.0.100/24", Address6: "fd00::64/64", Gateway6: "fd00::1"},
			}},
		{name: "link only", raw: enc(`[{"MAC":"02:43:aa:bb:cc:01","Address":"","Gateway":""}]`), want: []Interface{{MAC: "02:43:aa:bb:cc:01"}}},
		{name: "firewall", raw: enc(`[{"MAC":"02:42:0a:09:00:05","Address":"10.9.0.5/24","DNS":["10.9.0.1"],"Firewall":"peers","Peers":["10.9.0.0/24","fd00:9::/64"],"Published":[{"Proto":"tcp","Port":80},{"Proto":"udp","Port":53}]}]`),
			want: []Interface{{MAC: "02:42:0a:09:00:05", Address: "10.9.0.5/24", DNS: []string{"10.9.0.1"}, Firewall: &GuestFirewall{
				Level: FirewallPeers, Peers: []string{"10.9.0.0/24", "fd00:9::/64"}, DNS: []string{"10.9.0.1"},
				Published: []GuestPort{{Proto: "tcp", Port: 80}, {Proto: "udp", Port: 53}},
			}}}},
		{name: "unknown firewall level", raw: enc(`[{"MAC":"02:42:0a:09:00:05","Firewall":"ajar"}]`), bad: true},
		{name: "bad peer subnet", raw: enc(`[{"MAC":"02:42:0a:09:00:05","Firewall":"peers","Peers":["10.9.0.0"]}]`), bad: true},
		{name: "bad published port", raw: enc(`[{"MAC":"02:42:0a:09:00:05","Firewall":"published","Published":[{"Proto":"sctp","Port":80}]}]`), bad: true},
		{name: "not base64", raw: "!!", bad: true},
		{name: "not JSON", raw: enc(`{`), bad: true},
		{name: "bad MAC", raw: enc(`[{"MAC":"nope"}]`), bad: true},
		{name: "address without prefix", raw: enc(`[{"MAC":"02:42:ac:10:00:02","Address":"172.16.0.2"}]`), bad: true},
		{name: "bad gateway", raw: enc(`[{"MAC":"02:42:ac:10:00:02","Gateway":"172.16.0"}]`), bad: true},
		{name: "bad IPv6 gateway", raw: enc(`[{"MAC":"02:42:ac:10:00:02","Gateway6":"fd00::g"}]`), bad: true},
		{name: "bad name server", raw: enc(`[{"MAC":"02:42:ac:10:00:02","DNS":["dns.example"]}]`), bad: true},
		{name: "negative MTU", raw: enc(`[{"MAC":"02:42:ac:10:00:02","MTU":-1}]`), bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseGuestNICs(c.raw)
			if c.bad {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
