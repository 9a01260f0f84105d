package etcfiles

import (
	"testing"

	"github.com/vchproject/vch/tether/proto"
)

func TestHosts(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  proto.Config
		tail string
	}{
		{"hostname only", proto.Config{Hostname: "c1"}, "127.0.1.1\tc1\n"},
		{"with domain", proto.Config{Hostname: "c1", Domainname: "example.test"}, "127.0.1.1\tc1.example.test c1\n"},
		{"entries name the host", proto.Config{Hostname: "c1", Hosts: []proto.HostEntry{
			{IP: "172.16.0.2", Names: []string{"c1", "web"}},
			{IP: "172.16.0.3", Names: []string{"db"}},
		}}, "172.16.0.2\tc1 web\n172.16.0.3\tdb\n"},
		{"extra entries", proto.Config{Hostname: "c1", Hosts: []proto.HostEntry{
			{IP: "10.0.0.9", Names: []string{"registry"}},
			{IP: "", Names: []string{"ignored"}},
		}}, "10.0.0.9\tregistry\n127.0.1.1\tc1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Hosts(&tc.cfg)
			if got != localhost+tc.tail {
				t.Fatalf("got\n%s\nwant\n%s", got, localhost+tc.tail)
			}
		})
	}
}

func TestResolvConf(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  proto.Config
		want string
	}{
		{"empty", proto.Config{}, ""},
		{"full", proto.Config{DNS: []string{"172.16.0.1", "1.1.1.1"}, DNSSearch: []string{"a.test", "b.test"}, DNSOptions: []string{"ndots:2", "timeout:1"}},
			"nameserver 172.16.0.1\nnameserver 1.1.1.1\nsearch a.test b.test\noptions ndots:2 timeout:1\n"},
		{"search only", proto.Config{DNSSearch: []string{"a.test"}}, "search a.test\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ResolvConf(&tc.cfg); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := Hostname(&proto.Config{Hostname: "c1"}); got != "c1\n" {
		t.Fatalf("hostname: %q", got)
	}
}
