package etcfiles

import (
	"strings"

	"github.com/vchproject/vch/tether/proto"
)

// Hostname is the content of /etc/hostname.
func Hostname(c *proto.Config) string {
	return c.Hostname + "\n"
}

// localhost lines, as docker writes them.
const localhost = `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
`

// Hosts is the content of /etc/hosts: the localhost lines, then the
// config's entries; if none of them names the hostname, the hostname (with
// its domain, if any) is mapped to 127.0.1.1 so it always resolves.
func Hosts(c *proto.Config) string {
	var b strings.Builder
	b.WriteString(localhost)
	named := c.Hostname == ""
	for _, h := range c.Hosts {
		if h.IP == "" || len(h.Names) == 0 {
			continue
		}
		b.WriteString(h.IP + "\t" + strings.Join(h.Names, " ") + "\n")
		for _, n := range h.Names {
			if n == c.Hostname {
				named = true
			}
		}
	}
	if !named {
		names := c.Hostname
		if c.Domainname != "" {
			names = c.Hostname + "." + c.Domainname + " " + c.Hostname
		}
		b.WriteString("127.0.1.1\t" + names + "\n")
	}
	return b.String()
}

// ResolvConf is the content of /etc/resolv.conf.
func ResolvConf(c *proto.Config) string {
	var b strings.Builder
	for _, ns := range c.DNS {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(c.DNSSearch) > 0 {
		b.WriteString("search " + strings.Join(c.DNSSearch, " ") + "\n")
	}
	if len(c.DNSOptions) > 0 {
		b.WriteString("options " + strings.Join(c.DNSOptions, " ") + "\n")
	}
	return b.String()
}
