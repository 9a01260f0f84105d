package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	"github.com/vchproject/vch/internal/version"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/local"
	"github.com/vchproject/vch/machine/vsphere"
)

// vsphereCommand runs cmd against vSphere when args hold --target and
// reports whether it did; other commands go to the local target.
func vsphereCommand(ctx context.Context, cmd string, args []string) (bool, error) {
	if !hasTarget(args) {
		return false, nil
	}
	switch cmd {
	case "create":
		return true, createVSphere(ctx, args)
	case "delete":
		return true, deleteVSphere(ctx, args)
	case "ls":
		return true, lsVSphere(ctx, args)
	case "inspect":
		return true, inspectVSphere(ctx, args)
	case "configure":
		return true, configureVSphere(ctx, args)
	case "upgrade":
		return true, upgradeVSphere(ctx, args)
	case "update":
		return true, updateVSphere(ctx, args)
	case "start", "stop":
		return true, fmt.Errorf("%s is for VCHs on this machine: a vSphere VCH's endpoint VM is powered on by create and upgrade", cmd)
	}
	return false, nil
}

// exitVSphere ends vic-machine as main does for local commands.
func exitVSphere(cmd string, err error) {
	if err == nil || errors.Is(err, errHelp) {
		return
	}
	fmt.Fprintf(os.Stderr, "vic-machine %s failed: %v\n", cmd, err)
	os.Exit(1)
}

// hasTarget tells whether a command is for a vSphere target.
func hasTarget(args []string) bool {
	for _, a := range args {
		if a == "--target" || a == "-target" || strings.HasPrefix(a, "--target=") || strings.HasPrefix(a, "-target=") {
			return true
		}
	}
	return false
}

// targetFlags are the options every vSphere command takes.
type targetFlags struct {
	target, user, password, thumbprint string
	timeout                            time.Duration
}

func (t *targetFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&t.target, "target", "", "vCenter or ESXi: [https://][USER[:PASSWORD]@]HOST[/DATACENTER]")
	fs.StringVar(&t.user, "user", "", "vSphere user (or USER@ in --target)")
	fs.StringVar(&t.password, "password", "", "vSphere password (default $VIC_MACHINE_PASSWORD, then $GOVC_PASSWORD, then asked on the terminal)")
	fs.StringVar(&t.thumbprint, "thumbprint", "", "SHA-1 (or SHA-256) thumbprint of the server's certificate, AA:BB:…, when a known CA did not sign it")
	fs.DurationVar(&t.timeout, "timeout", 3*time.Minute, "how long the whole operation may take")
}

// newLogger writes progress to stderr, as VIC's INFO lines did.
func newLogger() *zap.Logger {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.TimeKey = ""
	enc.CallerKey = ""
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), zapcore.InfoLevel)
	return zap.New(core)
}

// session parses --target, finds the password and connects.
func (t *targetFlags) session(ctx context.Context, log *zap.Logger) (*vsphere.Session, error) {
	if t.target == "" {
		return nil, fmt.Errorf("--target is required: the vCenter or ESXi host, HOST/DATACENTER")
	}
	tg, err := vsphere.ParseTarget(t.target)
	if err != nil {
		return nil, err
	}
	if t.user != "" {
		tg.User = t.user
	}
	if tg.User == "" {
		return nil, fmt.Errorf("no vSphere user: give --user or --target USER@%s", tg.Host)
	}
	tg.Password, err = password(t.password, tg)
	if err != nil {
		return nil, err
	}
	return vsphere.Connect(ctx, vsphere.ConnectOptions{Target: tg, Thumbprint: t.thumbprint, Log: log})
}

// password: --password, the one in --target, $VIC_MACHINE_PASSWORD,
// $GOVC_PASSWORD, else asked on the terminal.
func password(flagValue string, tg vsphere.Target) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if tg.Password != "" {
		return tg.Password, nil
	}
	for _, env := range vsphere.PasswordEnv {
		if v := os.Getenv(env); v != "" {
			return v, nil
		}
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", fmt.Errorf("no password for %s: give --password or set %s", tg.User, strings.Join(vsphere.PasswordEnv, " or "))
	}
	fmt.Fprintf(os.Stderr, "vSphere password for %s: ", tg.User)
	p, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(p), nil
}

// withSession runs fn with a connected session within --timeout.
func withSession(ctx context.Context, t *targetFlags, fn func(context.Context, *vsphere.Session) error) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	s, err := t.session(ctx, newLogger())
	if err != nil {
		return err
	}
	defer s.Close()
	err = fn(ctx, s)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: not done within --timeout %s", err, t.timeout)
	}
	return err
}

// allocFlags are --cpu, --cpu-reservation, --cpu-shares (or memory).
type allocFlags struct {
	what                       string
	limit, reservation, shares string
}

func (a *allocFlags) add(fs *flag.FlagSet, what string) {
	a.what = what
	unit := "MB as in VIC (2048) or a size (2G)"
	if what == "cpu" {
		unit = "MHz as in VIC (2000, 2000MHz, 2.5GHz)"
	}
	fs.StringVar(&a.limit, what, "0", what+" limit of the VCH's resource pool: "+unit+"; 0: unlimited")
	fs.StringVar(&a.reservation, what+"-reservation", "0", what+" reservation of the VCH's resource pool: "+unit)
	fs.StringVar(&a.shares, what+"-shares", "normal", what+" shares of the VCH's resource pool: low, normal, high or a number")
}

func (a *allocFlags) value() (vice.Allocation, error) {
	lim, err := a.parse(a.what, a.limit)
	if err != nil {
		return vice.Allocation{}, err
	}
	res, err := a.parse(a.what+"-reservation", a.reservation)
	if err != nil {
		return vice.Allocation{}, err
	}
	return vice.Allocation{Limit: lim, Reservation: res, Shares: a.shares}, nil
}

// parse reads MHz (cpu) or MB (memory).
func (a *allocFlags) parse(flagName, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	if a.what == "cpu" {
		l := strings.ToLower(s)
		for _, u := range []struct {
			suffix string
			mult   float64
		}{{"ghz", 1000}, {"mhz", 1}} {
			if strings.HasSuffix(l, u.suffix) {
				if f, err := strconv.ParseFloat(strings.TrimSuffix(l, u.suffix), 64); err == nil && f >= 0 {
					return int64(f * u.mult), nil
				}
			}
		}
		return 0, fmt.Errorf("--%s %q: give MHz (2000, 2000MHz or 2.5GHz); a vSphere resource pool has no cores", flagName, s)
	}
	n, err := parseSize(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--%s %q: give MB (2048) or a size (2G)", flagName, s)
	}
	return n >> 20, nil
}

// cnetFlags are the --container-network family.
type cnetFlags struct{ nets, gateways, ranges, dns, firewalls stringList }

func (c *cnetFlags) add(fs *flag.FlagSet) {
	fs.Var(&c.nets, "container-network", "PORTGROUP[:NAME]: a port group containers can join as docker network NAME (repeatable)")
	fs.Var(&c.gateways, "container-network-gateway", "PORTGROUP:GATEWAY/MASK (repeatable)")
	fs.Var(&c.ranges, "container-network-ip-range", "PORTGROUP:FIRST-LAST or PORTGROUP:CIDR (repeatable)")
	fs.Var(&c.dns, "container-network-dns", "PORTGROUP:IP (repeatable)")
	fs.Var(&c.firewalls, "container-network-firewall", "PORTGROUP:closed|outbound|published|open|peers (repeatable)")
}

func (c *cnetFlags) value() ([]vice.ContainerNetwork, error) {
	return vsphere.ParseContainerNetworks(c.nets, c.gateways, c.ranges, c.dns, c.firewalls)
}

// parseCreateVSphere reads create's options for a vSphere target.
func parseCreateVSphere(args []string) (*targetFlags, vsphere.CreateOptions, error) {
	fs := newFlags("create")
	t := &targetFlags{}
	t.add(fs)
	o := vsphere.CreateOptions{Version: version.Version}
	var cpu, mem allocFlags
	var cn cnetFlags
	var vstores, dns, cnames, insecure, registryCAs, whitelist, mirrors stringList
	var cmem, baseImage, emem string
	addr := map[string]*vsphere.NetworkAddressing{}
	fs.StringVar(&o.Name, "name", "virtual-container-host", "VCH name")
	fs.Var(&insecure, "insecure-registry", "registry (host[:port] or CIDR) reached with unverified TLS or HTTP (repeatable)")
	fs.Var(&registryCAs, "registry-ca", "PEM file of a CA trusted for registries, besides the system's (repeatable)")
	fs.Var(&whitelist, "whitelist-registry", "only these registries may be used: host[:port], CIDR or *.domain (repeatable)")
	fs.Var(&mirrors, "registry-mirror", "Docker Hub mirror, http[s]://host[:port], tried first (repeatable)")
	fs.StringVar(&o.ComputeResource, "compute-resource", "", "cluster, host or resource pool (cluster/pool) the VCH goes in (default: the only one)")
	fs.StringVar(&o.ImageStore, "image-store", "", "DATASTORE[/PATH] for images and the endpoint VM (required)")
	fs.Var(&vstores, "volume-store", "DATASTORE/PATH:LABEL where volumes live (repeatable); label default holds anonymous volumes")
	fs.StringVar(&o.Bridge, "bridge-network", "", "port group of this VCH's bridge network, used by no other VCH (required)")
	fs.StringVar(&o.BridgeRange, "bridge-network-range", "172.16.0.0/12", "range the bridge networks' subnets come from")
	fs.StringVar(&o.Public, "public-network", "VM Network", "port group of the public network (published ports, outbound)")
	fs.StringVar(&o.Client, "client-network", "", "port group Docker clients reach the VCH on (default: the public network)")
	fs.StringVar(&o.Management, "management-network", "", "port group the VCH reaches vSphere on (default: the public network)")
	for _, n := range []string{"public", "client", "management"} {
		a := &vsphere.NetworkAddressing{}
		addr[n] = a
		fs.StringVar(&a.IP, n+"-network-ip", "", "the endpoint's static address on the "+n+" network, IP/MASK (default: DHCP)")
		gw := "default gateway of the endpoint (with --public-network-ip)"
		if n != "public" {
			gw = "DEST[,DEST…]:GATEWAY: routes from the " + n + " network to those CIDRs (with --" + n + "-network-ip)"
		}
		fs.StringVar(&a.Gateway, n+"-network-gateway", "", gw)
	}
	fs.Var(&dns, "dns-server", "DNS server of the endpoint (repeatable; default: from DHCP)")
	fs.StringVar(&o.TLS.CertPath, "cert-path", "", "folder for the CA, server and client certificates (DOCKER_CERT_PATH; default ./NAME); certificates already there are used")
	fs.Var(&cnames, "tls-cname", "extra server certificate name (repeatable)")
	fs.BoolVar(&o.TLS.NoTLS, "no-tls", false, "serve the Docker API without TLS (INSECURE)")
	fs.BoolVar(&o.TLS.NoTLSVerify, "no-tlsverify", false, "do not require client certificates (INSECURE)")
	cn.add(fs)
	cpu.add(fs, "cpu")
	mem.add(fs, "memory")
	fs.StringVar(&o.OpsUser, "ops-user", "", "vSphere user the VCH acts as (default: --user, whose password the VCH then keeps, sealed)")
	fs.StringVar(&o.OpsPassword, "ops-password", "", "password of --ops-user")
	fs.BoolVar(&o.OpsGrantPerms, "ops-grant-perms", false, "grant --ops-user the permissions the VCH needs (role "+vsphere.OpsRole+")")
	fs.StringVar(&o.NameConvention, "container-name-convention", "", "name of container VMs, with {name} and {id}, e.g. myteam-{name}")
	fs.IntVar(&o.ContainerCPUs, "container-cpus", 1, "default vCPUs of a container VM")
	fs.StringVar(&cmem, "container-memory", "512M", "default memory of a container VM")
	fs.StringVar(&baseImage, "base-image-size", "8G", "size cap of each container's writable layer")
	fs.IntVar(&o.EndpointCPUs, "endpoint-cpu", 1, "vCPUs of the endpoint VM")
	fs.StringVar(&emem, "endpoint-memory", "2048M", "memory of the endpoint VM")
	fs.BoolVar(&o.Debug, "debug", false, "debug logging in the VCH")
	fs.StringVar(&o.ApplianceISO, "appliance-iso", bundleFile("appliance.iso"), "endpoint VM's boot image, uploaded to its folder (default: appliance.iso beside vic-machine, if there)")
	fs.StringVar(&o.BootstrapISO, "bootstrap-iso", bundleFile("bootstrap.iso"), "container VMs' boot image, uploaded to the endpoint VM's folder (default: bootstrap.iso beside vic-machine, if there)")
	if err := parse(fs, args); err != nil {
		return nil, o, err
	}
	o.VolumeStores = vstores
	o.DNS, o.TLS.CNames = dns, cnames
	o.Registry.Insecure, o.Registry.Whitelist, o.Registry.Mirrors = insecure, whitelist, mirrors
	o.RegistryCAs = registryCAs
	o.Addressing = map[string]vsphere.NetworkAddressing{}
	for n, a := range addr {
		o.Addressing[n] = *a
	}
	if o.TLS.CertPath == "" {
		o.TLS.CertPath = o.Name
	}
	var err error
	if o.CPU, err = cpu.value(); err != nil {
		return nil, o, err
	}
	if o.Memory, err = mem.value(); err != nil {
		return nil, o, err
	}
	if o.ContainerNetworks, err = cn.value(); err != nil {
		return nil, o, err
	}
	n, err := parseSize(cmem)
	if err != nil {
		return nil, o, fmt.Errorf("--container-memory: %w", err)
	}
	o.ContainerMemoryMB = n >> 20
	if o.BaseImageSize, err = parseSize(baseImage); err != nil {
		return nil, o, fmt.Errorf("--base-image-size: %w", err)
	}
	if n, err = parseSize(emem); err != nil {
		return nil, o, fmt.Errorf("--endpoint-memory: %w", err)
	}
	o.EndpointMemoryMB = n >> 20
	return t, o, nil
}

func createVSphere(ctx context.Context, args []string) error {
	t, o, err := parseCreateVSphere(args)
	if err != nil {
		return err
	}
	if o.ApplianceISO == "" {
		fmt.Fprintln(os.Stderr, "WARNING: no appliance.iso beside vic-machine and no --appliance-iso: the endpoint VM gets no boot media")
	}
	if o.TLS.NoTLS || o.TLS.NoTLSVerify {
		fmt.Fprintln(os.Stderr, "WARNING: this VCH accepts Docker API clients WITHOUT certificate authentication")
	}
	if abs, err := filepath.Abs(o.TLS.CertPath); err == nil {
		o.TLS.CertPath = abs
	}
	return withSession(ctx, t, func(ctx context.Context, s *vsphere.Session) error {
		v, err := s.Create(ctx, o)
		if err != nil {
			return err
		}
		fmt.Printf("Completed successfully: VCH %s created: endpoint VM %s in %s/%s\n", o.Name, v.ID, v.Path, o.Name)
		printDockerEnv(v.Config, o.TLS.CertPath)
		return nil
	})
}

// printDockerEnv prints the DOCKER_* lines the local target prints, when
// the client network's address is static; with DHCP, how to find it.
func printDockerEnv(c *vice.Config, certPath string) {
	host := c.DockerHost()
	if host == "" {
		port := vice.APIPort
		if c.TLS.NoTLS {
			port = vice.APIPortNoTLS
		}
		fmt.Printf("The endpoint's client address comes from DHCP: find it in the VM %s's guest IP (vSphere client) or in the DHCP server's leases, then\n", c.Name)
		host = fmt.Sprintf("tcp://ADDRESS:%d", port)
		if !c.TLS.NoTLS && !c.TLS.NoTLSVerify {
			fmt.Printf("(the server certificate names %s, not the DHCP address: reach the VCH by one of those names, or give --client-network-ip)\n",
				strings.Join(append([]string{c.Name}, c.TLS.CNames...), ", "))
		}
	}
	fmt.Print(local.Env{Host: host, CertPath: certPath, TLS: !c.TLS.NoTLS, Verify: !c.TLS.NoTLS && !c.TLS.NoTLSVerify}.Lines())
}

// bundleFile is name beside this executable if it exists, else "".
func bundleFile(name string) string {
	if p := filepath.Join(binDir(), name); fileExists(p) {
		return p
	}
	return ""
}

// nameFlags pick one VCH.
type nameFlags struct{ name, id string }

func (n *nameFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&n.name, "name", "virtual-container-host", "VCH name")
	fs.StringVar(&n.id, "id", "", "endpoint VM ID (vm-212) when names repeat")
}

func lsVSphere(ctx context.Context, args []string) error {
	fs := newFlags("ls")
	t := &targetFlags{}
	t.add(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	return withSession(ctx, t, func(ctx context.Context, s *vsphere.Session) error {
		vchs, err := s.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 1, ' ', 0)
		fmt.Fprintln(tw, "ID\tPATH\tNAME\tVERSION\tUPGRADE STATUS")
		for _, v := range vchs {
			ver, status := "", "Unknown: its configuration does not decode"
			if v.Config != nil {
				ver, status = v.Config.Version, upgradeStatus(v.Config.Version)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.Path, v.Name(), ver, status)
		}
		return tw.Flush()
	})
}

func deleteVSphere(ctx context.Context, args []string) error {
	fs := newFlags("delete")
	t := &targetFlags{}
	t.add(fs)
	var n nameFlags
	n.add(fs)
	force := fs.Bool("force", false, "delete even with container VMs (they are removed), and the volume stores' volumes")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withSession(ctx, t, func(ctx context.Context, s *vsphere.Session) error {
		v, err := s.Find(ctx, n.name, n.id)
		if err != nil {
			return err
		}
		kept, err := s.Delete(ctx, v, *force)
		for _, vs := range kept {
			fmt.Printf("Volume store %s kept at %s (delete with --force to remove its volumes)\n", vs.Label, vs.Location().DSPath())
		}
		if err != nil {
			return err
		}
		fmt.Printf("Completed successfully: VCH %s deleted\n", v.Name())
		return nil
	})
}

func inspectVSphere(ctx context.Context, args []string) error {
	showConfig := len(args) > 0 && args[0] == "config"
	if showConfig {
		args = args[1:]
	}
	fs := newFlags("inspect")
	t := &targetFlags{}
	t.add(fs)
	var n nameFlags
	n.add(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	return withSession(ctx, t, func(ctx context.Context, s *vsphere.Session) error {
		v, err := s.Find(ctx, n.name, n.id)
		if err != nil {
			return err
		}
		if showConfig {
			fmt.Println(local.ShellQuote(vsphere.CommandLine(v.Config, s.Target.User)))
			return nil
		}
		printVSphere(v)
		return nil
	})
}

func printVSphere(v *vsphere.VCH) {
	c := v.Config
	row := func(k, val string) { fmt.Printf("%s: %s\n", k, val) }
	row("Name", c.Name)
	row("ID", v.ID)
	row("Path", v.Path)
	row("Resource pool", c.Pool)
	row("Version", c.Version+" ("+upgradeStatus(c.Version)+")")
	if c.PreviousVersion != "" {
		row("Previous version", c.PreviousVersion+" (vic-machine upgrade --rollback returns to it)")
	}
	row("Endpoint VM", string(v.PowerState))
	if h := c.DockerHost(); h != "" {
		row("Docker endpoint", h)
	} else {
		row("Docker endpoint", "the client network's address from DHCP, port "+strconv.Itoa(vice.APIPort))
	}
	if c.ISO.Appliance != "" {
		row("Appliance ISO", c.ISO.Appliance)
	}
	if c.ISO.Bootstrap != "" {
		row("Bootstrap ISO", c.ISO.Bootstrap)
	}
	row("Target", c.Target+" (thumbprint "+c.Thumbprint+")")
	alloc := func(a vice.Allocation, unit string) string {
		lim := "unlimited"
		if a.Limit > 0 {
			lim = strconv.FormatInt(a.Limit, 10) + " " + unit
		}
		return fmt.Sprintf("limit %s, reservation %d %s, shares %s", lim, a.Reservation, unit, a.Shares)
	}
	row("CPU", alloc(c.Resources.CPU, "MHz"))
	row("Memory", alloc(c.Resources.Memory, "MB"))
	row("Operations user", c.Ops.User)
	if c.Ops.GrantPerms {
		row("Operations permissions", "granted by vic-machine (role "+c.Ops.Role+")")
	}
	row("Image store", c.Storage.Image.DSPath())
	for _, vs := range c.Storage.Volumes {
		row("Volume store "+vs.Label, vs.Location().DSPath())
	}
	row("Bridge network", c.Network.Bridge.Name+" ("+c.Network.BridgeRange+")")
	for _, n := range []struct {
		what string
		e    vice.EndpointNetwork
	}{{"Public", c.Network.Public}, {"Client", c.Network.Client}, {"Management", c.Network.Management}} {
		a := "DHCP"
		if n.e.IP != "" {
			a = n.e.IP
		}
		if n.e.Gateway != "" {
			a += ", gateway " + n.e.Gateway
		}
		row(n.what+" network", n.e.Name+" ("+a+", MAC "+n.e.MAC+")")
	}
	if len(c.Network.DNS) > 0 {
		row("DNS servers", strings.Join(c.Network.DNS, ", "))
	}
	for _, cn := range c.Network.Containers {
		extra := []string{}
		if cn.Gateway != "" {
			extra = append(extra, "gateway "+cn.Gateway)
		}
		if cn.IPRange != "" {
			extra = append(extra, "range "+cn.IPRange)
		}
		if len(cn.DNS) > 0 {
			extra = append(extra, "dns "+strings.Join(cn.DNS, ","))
		}
		if cn.Firewall != "" {
			extra = append(extra, "firewall "+cn.Firewall)
		}
		row("Container network "+cn.Alias, strings.TrimSpace(cn.PortGroup.Name+" "+strings.Join(extra, ", ")))
	}
	if r := c.Registry; len(r.Insecure)+len(r.Whitelist)+len(r.Mirrors) > 0 || r.CA != "" {
		row("Insecure registries", strings.Join(r.Insecure, ", "))
		row("Registry whitelist", strings.Join(r.Whitelist, ", "))
		row("Registry mirrors", strings.Join(r.Mirrors, ", "))
		if r.CA != "" {
			row("Registry CAs", "kept in the VCH's config")
		}
	}
	row("Container VM defaults", fmt.Sprintf("%d vCPU, %d MiB memory, %s writable layer", c.Container.CPUs, c.Container.MemoryMB, humanSize(c.Storage.BaseImageSize)))
	if c.Container.NameConvention != "" {
		row("Container name convention", c.Container.NameConvention)
	}
}

func configureVSphere(ctx context.Context, args []string) error {
	fs := newFlags("configure")
	t := &targetFlags{}
	t.add(fs)
	var n nameFlags
	n.add(fs)
	var cpu, mem allocFlags
	cpu.add(fs, "cpu")
	mem.add(fs, "memory")
	var cn cnetFlags
	cn.add(fs)
	var vstores stringList
	fs.Var(&vstores, "volume-store", "DATASTORE/PATH:LABEL to add (repeatable); existing stores stay")
	opsUser := fs.String("ops-user", "", "vSphere user the VCH acts as")
	opsPass := fs.String("ops-password", "", "password of the ops user")
	debug := fs.Bool("debug", false, "debug logging in the VCH (--debug=false turns it off)")
	ips, gateways := map[string]*string{}, map[string]*string{}
	for _, n := range []string{"public", "client", "management"} {
		ips[n] = fs.String(n+"-network-ip", "", "the endpoint's static address on the "+n+" network, IP/MASK (--"+n+"-network-ip= goes back to DHCP)")
		gw := "default gateway of the endpoint"
		if n != "public" {
			gw = "DEST[,DEST…]:GATEWAY: routes from the " + n + " network to those CIDRs"
		}
		gateways[n] = fs.String(n+"-network-gateway", "", gw+" (--"+n+"-network-gateway= drops it)")
	}
	var dns, cnames, insecure, registryCAs, whitelist, mirrors stringList
	fs.Var(&dns, "dns-server", "replaces the endpoint's DNS servers (repeatable; --dns-server= : those of DHCP)")
	fs.Var(&cnames, "tls-cname", "replaces the extra server certificate names (repeatable; --tls-cname= : none); a new server certificate is signed")
	certPath := fs.String("cert-path", "", "the folder create wrote the VCH's certificates to, with its CA key (default ./NAME): signs the new server certificate when the names or static addresses change")
	fs.Var(&insecure, "insecure-registry", "replaces the insecure registries: host[:port] or CIDR (repeatable; --insecure-registry= : none)")
	fs.Var(&registryCAs, "registry-ca", "replaces the trusted registry CAs: PEM file (repeatable; --registry-ca= : only the system's)")
	fs.Var(&whitelist, "whitelist-registry", "replaces the registry whitelist: host[:port], CIDR or *.domain (repeatable; --whitelist-registry= : none)")
	fs.Var(&mirrors, "registry-mirror", "replaces the Docker Hub mirrors: http[s]://host[:port] (repeatable; --registry-mirror= : none)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o := vsphere.ConfigureOptions{AddVolumeStores: vstores, CertPath: *certPath}
	if o.CertPath == "" {
		o.CertPath = n.name
	}
	if abs, err := filepath.Abs(o.CertPath); err == nil {
		o.CertPath = abs
	}
	// A list flag given replaces the list; an empty value (--dns-server=)
	// clears it.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "dns-server":
			o.DNS = dns.nonEmpty()
		case "tls-cname":
			o.CNames = cnames.nonEmpty()
		case "insecure-registry":
			o.Insecure = insecure.nonEmpty()
		case "whitelist-registry":
			o.Whitelist = whitelist.nonEmpty()
		case "registry-mirror":
			o.Mirrors = mirrors.nonEmpty()
		case "registry-ca":
			o.RegistryCAs = registryCAs.nonEmpty()
		}
		for _, net := range []string{"public", "client", "management"} {
			if f.Name == net+"-network-ip" || f.Name == net+"-network-gateway" {
				if o.Addressing == nil {
					o.Addressing = map[string]vsphere.AddressingChange{}
				}
				a := o.Addressing[net]
				if f.Name == net+"-network-ip" {
					a.IP = ips[net]
				} else {
					a.Gateway = gateways[net]
				}
				o.Addressing[net] = a
			}
		}
	})
	var err error
	if o.AddContainerNetworks, err = cn.value(); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cpuA, err := cpu.value()
	if err != nil {
		return err
	}
	memA, err := mem.value()
	if err != nil {
		return err
	}
	return withSession(ctx, t, func(ctx context.Context, s *vsphere.Session) error {
		v, err := s.Find(ctx, n.name, n.id)
		if err != nil {
			return err
		}
		if set["cpu"] || set["cpu-reservation"] || set["cpu-shares"] {
			a := merge(v.Config.Resources.CPU, cpuA, set, "cpu")
			o.CPU = &a
		}
		if set["memory"] || set["memory-reservation"] || set["memory-shares"] {
			a := merge(v.Config.Resources.Memory, memA, set, "memory")
			o.Memory = &a
		}
		if set["ops-user"] {
			o.OpsUser = opsUser
		}
		if set["ops-password"] {
			o.OpsPassword = opsPass
		}
		if set["debug"] {
			o.Debug = debug
		}
		oldHost, oldNames := v.Config.DockerHost(), v.Config.TLS.CNames
		res, err := s.Configure(ctx, v, o)
		if err != nil {
			return err
		}
		if !res.Changed {
			fmt.Printf("VCH %s: nothing to change\n", v.Name())
			return nil
		}
		switch {
		case res.Restarted:
			fmt.Printf("Completed successfully: VCH %s reconfigured; endpoint VM %s restarted (powered off and on) to read the new settings, containers kept running\n", v.Name(), v.ID)
		case res.NeedsBoot:
			fmt.Printf("Completed successfully: VCH %s reconfigured; its endpoint VM %s is %s and reads the new settings when powered on\n", v.Name(), v.ID, v.PowerState)
		default:
			fmt.Printf("Completed successfully: VCH %s reconfigured\n", v.Name())
		}
		if res.NewServerCert {
			fmt.Printf("New server certificate for %s, signed by the VCH's CA in %s\n", strings.Join(vsphere.ServerCertNames(v.Config), ", "), o.CertPath)
		}
		if v.Config.DockerHost() != oldHost || (v.Config.DockerHost() == "" && !slices.Equal(oldNames, v.Config.TLS.CNames)) {
			printDockerEnv(v.Config, o.CertPath)
		}
		return nil
	})
}

// merge applies the flags given to an allocation.
func merge(a, f vice.Allocation, set map[string]bool, what string) vice.Allocation {
	if set[what] {
		a.Limit = f.Limit
	}
	if set[what+"-reservation"] {
		a.Reservation = f.Reservation
	}
	if set[what+"-shares"] {
		a.Shares = f.Shares
	}
	return a
}

func upgradeVSphere(ctx context.Context, args []string) error {
	fs := newFlags("upgrade")
	t := &targetFlags{}
	t.add(fs)
	var n nameFlags
	n.add(fs)
	force := fs.Bool("force", false, "upgrade even when the VCH is at this version")
	rollback := fs.Bool("rollback", false, "return to the version before the last upgrade")
	var isos vsphere.UpgradeISOs
	fs.StringVar(&isos.Appliance, "appliance-iso", bundleFile("appliance.iso"), "the new endpoint VM boot image, uploaded beside the old one (default: appliance.iso beside vic-machine, if there)")
	fs.StringVar(&isos.Bootstrap, "bootstrap-iso", bundleFile("bootstrap.iso"), "the new container VM boot image (default: bootstrap.iso beside vic-machine, if there)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*rollback && isos.Appliance == "" && isos.Bootstrap == "" {
		fmt.Fprintln(os.Stderr, "WARNING: no ISOs beside vic-machine and no --appliance-iso/--bootstrap-iso: the upgrade records the version only")
	}
	return withSession(ctx, t, func(ctx context.Context, s *vsphere.Session) error {
		v, err := s.Find(ctx, n.name, n.id)
		if err != nil {
			return err
		}
		if *rollback {
			if err := s.Rollback(ctx, v); err != nil {
				return err
			}
			fmt.Printf("Completed successfully: VCH %s rolled back to %s\n", v.Name(), v.Config.Version)
			return nil
		}
		if err := s.Upgrade(ctx, v, version.Version, *force, isos); err != nil {
			return err
		}
		fmt.Printf("Completed successfully: VCH %s upgraded from %s to %s\n", v.Name(), v.Config.PreviousVersion, v.Config.Version)
		return nil
	})
}

// updateVSphere is update firewall --allow|--deny on the ESXi hosts.
func updateVSphere(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "firewall" {
		return fmt.Errorf("usage: vic-machine update firewall --target HOST/DC --compute-resource CLUSTER --allow|--deny")
	}
	fs := newFlags("update firewall")
	t := &targetFlags{}
	t.add(fs)
	compute := fs.String("compute-resource", "", "cluster or host whose hosts to change (default: the only one)")
	allow := fs.Bool("allow", false, "let container VMs' serial ports reach the VCH (outbound TCP 2377)")
	deny := fs.Bool("deny", false, "turn that rule off again")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *allow == *deny {
		return fmt.Errorf("give one of --allow or --deny")
	}
	return withSession(ctx, t, func(ctx context.Context, s *vsphere.Session) error {
		hosts, err := s.UpdateFirewall(ctx, *compute, *allow)
		for _, h := range hosts {
			state := "disabled"
			if *allow {
				state = "enabled"
			}
			fmt.Printf("Host %s: firewall ruleset %s %s\n", h.Host, h.Ruleset, state)
		}
		if err != nil {
			return err
		}
		fmt.Println("Completed successfully")
		return nil
	})
}
