package vsphere

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/vchproject/vch/internal/vice"
)

// CommandLine is the create command that makes a VCH like c on the same
// target, non-default options only. Passwords are left out: give
// --user/--password (and --ops-password with --ops-user) when running it,
// and --registry-ca with the registry CAs' files (the config keeps their
// certificates, not the files).
// loginUser is the user vic-machine logged in as: an ops user equal to it
// was the default and is not printed.
func CommandLine(c *vice.Config, loginUser string) []string {
	dc := strings.TrimPrefix(c.Datacenter, "/")
	args := []string{"vic-machine", "create", "--target", c.Target + "/" + dc, "--thumbprint", c.Thumbprint, "--name", c.Name}
	add := func(flag, val string) { args = append(args, flag, val) }
	add("--compute-resource", computeFlag(c.ComputeResource, c.Datacenter))
	img := c.Storage.Image
	base := img.Path
	if i := strings.Index(base, "VIC/"); i >= 0 {
		base = strings.TrimSuffix(base[:i], "/")
	}
	add("--image-store", strings.TrimSuffix(img.Datastore+"/"+base, "/"))
	for _, vs := range c.Storage.Volumes {
		add("--volume-store", strings.TrimSuffix(vs.Datastore+"/"+vs.Path, "/")+":"+vs.Label)
	}
	n := c.Network
	add("--bridge-network", n.Bridge.Name)
	if n.BridgeRange != "" && n.BridgeRange != "172.16.0.0/12" {
		add("--bridge-network-range", n.BridgeRange)
	}
	add("--public-network", n.Public.Name)
	if n.Client.Name != n.Public.Name {
		add("--client-network", n.Client.Name)
	}
	if n.Management.Name != n.Public.Name {
		add("--management-network", n.Management.Name)
	}
	for _, e := range []struct {
		flag string
		n    vice.EndpointNetwork
	}{{"public", n.Public}, {"client", n.Client}, {"management", n.Management}} {
		// An address is the port group's: given once, and again with a
		// gateway (create wants the address beside it).
		if e.n.IP != "" && (e.flag == "public" || e.n.Name != n.Public.Name || e.n.Gateway != "") {
			add("--"+e.flag+"-network-ip", e.n.IP)
		}
		if e.n.Gateway != "" {
			add("--"+e.flag+"-network-gateway", e.n.Gateway)
		}
	}
	for _, d := range n.DNS {
		add("--dns-server", d)
	}
	for _, cn := range c.TLS.CNames {
		add("--tls-cname", cn)
	}
	if c.TLS.NoTLS {
		args = append(args, "--no-tls")
	}
	if c.TLS.NoTLSVerify {
		args = append(args, "--no-tlsverify")
	}
	for _, r := range c.Registry.Insecure {
		add("--insecure-registry", r)
	}
	for _, r := range c.Registry.Whitelist {
		add("--whitelist-registry", r)
	}
	for _, r := range c.Registry.Mirrors {
		add("--registry-mirror", r)
	}
	for _, cn := range n.Containers {
		pg := cn.PortGroup.Name
		v := pg
		if cn.Alias != pg {
			v += ":" + cn.Alias
		}
		add("--container-network", v)
		if cn.Gateway != "" {
			add("--container-network-gateway", pg+":"+cn.Gateway)
		}
		if cn.IPRange != "" {
			add("--container-network-ip-range", pg+":"+cn.IPRange)
		}
		for _, d := range cn.DNS {
			add("--container-network-dns", pg+":"+d)
		}
		if cn.Firewall != "" {
			add("--container-network-firewall", pg+":"+cn.Firewall)
		}
	}
	for _, r := range []struct {
		what string
		a    vice.Allocation
	}{{"cpu", c.Resources.CPU}, {"memory", c.Resources.Memory}} {
		if r.a.Limit > 0 {
			add("--"+r.what, strconv.FormatInt(r.a.Limit, 10))
		}
		if r.a.Reservation > 0 {
			add("--"+r.what+"-reservation", strconv.FormatInt(r.a.Reservation, 10))
		}
		if r.a.Shares != "" && r.a.Shares != "normal" {
			add("--"+r.what+"-shares", r.a.Shares)
		}
	}
	if c.Ops.User != "" && c.Ops.User != loginUser {
		add("--ops-user", c.Ops.User)
	}
	if c.Ops.GrantPerms {
		args = append(args, "--ops-grant-perms")
	}
	if c.Container.NameConvention != "" {
		add("--container-name-convention", c.Container.NameConvention)
	}
	if c.Container.CPUs > 1 {
		add("--container-cpus", strconv.Itoa(c.Container.CPUs))
	}
	if c.Container.MemoryMB > 0 && c.Container.MemoryMB != 512 {
		add("--container-memory", fmt.Sprintf("%dM", c.Container.MemoryMB))
	}
	if s := c.Storage.BaseImageSize; s > 0 && s != 8<<30 {
		add("--base-image-size", fmt.Sprintf("%dM", s>>20))
	}
	if c.Debug {
		args = append(args, "--debug")
	}
	return args
}

// computeFlag turns /DC/host/cluster/Resources[/pool] back into the
// --compute-resource form (cluster, or cluster/Resources/pool).
func computeFlag(inv, dc string) string {
	p := strings.TrimPrefix(inv, path.Join(dc, "host")+"/")
	return strings.TrimSuffix(p, "/Resources")
}
