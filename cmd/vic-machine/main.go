// Command vic-machine manages the lifecycle of Virtual Container Hosts:
// create, delete, ls, inspect, start, stop, version (and supervise, the
// supervisor process that create and start run). With --target the VCH is
// on vSphere (machine/vsphere, cmd/vic-machine/vsphere.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vchproject/vch/backends/syslog"
	"github.com/vchproject/vch/internal/version"
	"github.com/vchproject/vch/machine/limits"
	"github.com/vchproject/vch/machine/local"
	"github.com/vchproject/vch/machine/vchconfig"
)

const usage = `Usage: vic-machine COMMAND [options]

Commands:
  create    create and start a VCH, print the DOCKER_* lines to export
  delete    stop a VCH and remove everything it made but its volume stores
            (refused while containers exist, unless --force)
  ls        list VCHs
  inspect   show a VCH's endpoint, certificates, limits and stores;
            inspect config prints the create command that makes it again
  start     start the daemon of an existing VCH (and its supervisor)
  stop      stop the daemon of a VCH; container VMs keep running
  configure change an existing VCH's settings (its containers keep running)
  update    update firewall --allow|--deny: open or close the VCH's API port
            in the host firewall
  upgrade   move a VCH to this vic-machine's binaries (containers keep
            running); --rollback goes back to the binaries it ran before
  version   print vic-machine's version

With --target HOST/DATACENTER (vCenter or ESXi) create, delete, ls,
inspect, configure, upgrade [--rollback] and update firewall --allow|--deny
act on VCHs on vSphere; without it, on this machine. The vSphere password
comes from --password, $VIC_MACHINE_PASSWORD, $GOVC_PASSWORD or the
terminal. 'vic-machine COMMAND --target x -h' lists the vSphere options.

Run 'vic-machine COMMAND -h' for a command's options.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if done, err := vsphereCommand(ctx, os.Args[1], os.Args[2:]); done {
		exitVSphere(os.Args[1], err)
		return
	}
	var err error
	switch os.Args[1] {
	case "create":
		err = create(ctx, os.Args[2:])
	case "delete":
		err = del(os.Args[2:])
	case "ls":
		err = ls(os.Args[2:])
	case "inspect":
		err = inspect(os.Args[2:])
	case "start":
		err = start(ctx, os.Args[2:])
	case "configure":
		err = configure(ctx, os.Args[2:])
	case "stop":
		err = stopVCH(os.Args[2:])
	case "update":
		err = update(os.Args[2:])
	case "upgrade":
		err = upgrade(ctx, os.Args[2:])
	case "supervise":
		err = supervise(ctx, os.Args[2:])
	case "version", "--version":
		fmt.Printf("vic-machine version %s, commit %s, built %s\n", version.Version, version.GitCommit, version.BuildTime)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "vic-machine: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, errHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vic-machine %s failed: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// newFlags makes a command's flag set; parse reports bad flags itself.
func newFlags(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// errHelp ends a command after its usage was printed.
var errHelp = errors.New("help")

// parse reads a command's flags. A bad flag or value is one line that says
// what to do instead; -h prints the options.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(os.Stdout)
		fmt.Printf("Usage: vic-machine %s [options]\n\nOptions:\n", fs.Name())
		fs.PrintDefaults()
		return errHelp
	}
	if err != nil {
		return fmt.Errorf("%v: see 'vic-machine %s -h' for the options", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: see 'vic-machine %s -h' for the options", fs.Arg(0), fs.Name())
	}
	return nil
}

// binDir is the directory of this executable; vchd and tether live beside it.
func binDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(exe)
}

// defaultKernelDir is the bundle's kernel/ beside this executable when it
// has one, else the cache scripts/setup.sh fills.
func defaultKernelDir() string {
	if d := filepath.Join(binDir(), "kernel"); fileExists(filepath.Join(d, "vmlinuz")) {
		return d
	}
	return local.DefaultKernelDir
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// nonEmpty is the list without empty values: a replacing list flag given
// only as --flag= clears the list (an empty, non-nil slice).
func (s stringList) nonEmpty() []string {
	out := []string{}
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// configure changes registry settings, volume stores and the debug level
// of an existing VCH and restarts its vchd; the container VMs keep running.
func configure(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("configure", flag.ExitOnError)
	o := local.ConfigureOptions{}
	var vstores, insecure, registryCAs, whitelist, mirrors, bindAllow stringList
	var debug bool
	fs.StringVar(&o.Name, "name", "virtual-container-host", "VCH name")
	fs.StringVar(&o.StateDir, "state-dir", "", "base directory of VCHs (default $VCH_STATE_DIR or "+local.DefaultStateDir+")")
	fs.StringVar(&o.VCHD, "vchd", filepath.Join(binDir(), "vchd"), "vchd binary")
	fs.Var(&vstores, "volume-store", "PATH:LABEL to add (repeatable); existing stores stay")
	fs.Var(&bindAllow, "bind-allow", "replaces the host directories containers may bind mount from (repeatable; --bind-allow= allows none)")
	fs.Var(&insecure, "insecure-registry", "replaces the insecure registries: host[:port] or CIDR (repeatable)")
	fs.Var(&registryCAs, "registry-ca", "replaces the trusted registry CAs: PEM file (repeatable)")
	fs.BoolVar(&o.ClearRegistryCA, "no-registry-ca", false, "trust only the system's CAs for registries")
	fs.Var(&whitelist, "whitelist-registry", "replaces the registry whitelist: host[:port], CIDR or *.domain (repeatable)")
	fs.Var(&mirrors, "registry-mirror", "replaces the Docker Hub mirrors: http[s]://host[:port] (repeatable)")
	fs.BoolVar(&debug, "debug", false, "debug logging in vchd and the tethers (--debug=false turns it off)")
	cn := containerNetworkFlags(fs)
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "how long to wait for the VCH to answer")
	syslogAddr := fs.String("syslog-address", "", "replaces the syslog server of container output: udp://host:port or tcp://host:port; empty: none")
	tbClones := fs.Int("tcg-tb-size-clones", 0, "replaces the MB of TCG translation cache per template clone (0: the default); clones started afterwards use it")
	templates := fs.Bool("vm-templates", true, "start containers as clones of a saved template VM (the default); --vm-templates=false cold-boots containers started afterwards")
	lf := limitFlags(fs)
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// An empty value (--whitelist-registry=) clears a list.
	insecure, whitelist, mirrors, bindAllow = insecure.nonEmpty(), whitelist.nonEmpty(), mirrors.nonEmpty(), bindAllow.nonEmpty()
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "debug":
			o.Debug = &debug
		case "insecure-registry":
			o.Insecure = insecure
		case "whitelist-registry":
			o.Whitelist = whitelist
		case "registry-mirror":
			o.Mirrors = mirrors
		case "syslog-address":
			o.SyslogAddress = syslogAddr
		case "tcg-tb-size-clones":
			o.TCGTBSizeClonesMB = tbClones
		case "vm-templates":
			o.Templates = templates
		case "bind-allow":
			o.BindAllow = bindAllow
		}
	})
	fs.Visit(func(f *flag.Flag) {
		if lf.owns(f.Name) {
			// apply cannot fail here: the probe below parsed the values.
			o.SetLimits = func(l *vchconfig.Limits) { _ = lf.apply(fs, l) }
		}
	})
	if o.SetLimits != nil {
		// Bad values show before anything is touched.
		var probe vchconfig.Limits
		if err := lf.apply(fs, &probe); err != nil {
			return err
		}
	}
	if !given(fs, "vchd") {
		o.VCHD = local.VCHDFor(o.StateDir, o.Name, o.VCHD, version.Version)
	}
	if len(registryCAs) > 0 && o.ClearRegistryCA {
		return fmt.Errorf("--registry-ca and --no-registry-ca contradict each other")
	}
	o.RegistryCAs = registryCAs
	for _, v := range vstores {
		vs, err := local.ParseVolumeStore(v)
		if err != nil {
			return err
		}
		o.VolumeStores = append(o.VolumeStores, vs)
	}
	if cn.given() {
		v, err := local.Inspect(o.StateDir, o.Name)
		if err != nil {
			return err
		}
		if o.ContainerNetworks, err = vchconfig.EditContainerNetworks(v.Config.ContainerNetworks, cn.nets, cn.ranges, cn.gateways, cn.dns, cn.firewalls); err != nil {
			return err
		}
	}
	changed, err := local.Configure(ctx, o)
	if err != nil {
		return err
	}
	if !changed {
		fmt.Printf("VCH %s: nothing to change\n", o.Name)
		return nil
	}
	fmt.Printf("VCH %s reconfigured; vchd restarted, containers kept running\n", o.Name)
	return nil
}

// parseCreate reads create's options.
func parseCreate(args []string) (local.CreateOptions, error) {
	fs := newFlags("create")
	o := local.CreateOptions{Version: version.Version}
	var memory, baseImage string
	var cnames, tlsCAs, vstores, insecure, registryCAs, whitelist, mirrors, bindAllow stringList
	var timeout time.Duration
	fs.StringVar(&o.Name, "name", "virtual-container-host", "VCH name")
	fs.StringVar(&o.StateDir, "state-dir", "", "base directory of VCHs (default $VCH_STATE_DIR or "+local.DefaultStateDir+")")
	fs.IntVar(&o.APIPort, "api-port", local.DefaultAPIPort, "Docker API port")
	fs.StringVar(&o.BindAddr, "bind", local.DefaultBind, "Docker API listen address")
	fs.StringVar(&o.VCHD, "vchd", filepath.Join(binDir(), "vchd"), "vchd binary")
	fs.StringVar(&o.Tether, "tether", filepath.Join(binDir(), "tether"), "tether binary (static)")
	fs.StringVar(&o.KernelDir, "kernel-dir", defaultKernelDir(), "guest kernel: kernel/ beside vic-machine (the bundle's), else what scripts/fetch-kernel.sh fetched")
	fs.StringVar(&o.Accel, "accel", local.DefaultAccel, "accelerator for container VMs: auto, kvm or tcg")
	fs.StringVar(&memory, "container-memory", "512M", "default memory of a container VM")
	fs.IntVar(&o.CPUs, "container-cpus", local.DefaultCPUs, "default vCPUs of a container VM")
	fs.StringVar(&baseImage, "base-image-size", "8G", "size cap of each container's writable layer")
	fs.IntVar(&o.TCGTBSizeMB, "tcg-tb-size", 0, "MB of TCG translation cache per container VM (0: the default, 16; 64 boots about 0.4 s faster and costs about 50 MiB more per VM)")
	fs.IntVar(&o.TCGTBSizeClonesMB, "tcg-tb-size-clones", 0, "MB of TCG translation cache per template clone (--vm-templates; 0: the default, 32; 16 saves about 17 MiB per idle clone and runs about 0.25-0.45 s slower)")
	fs.StringVar(&o.GuestMemory, "guest-memory", "", "how container VM RAM is backed: anon (QEMU's, transparent huge pages; the default) or memfd (4 KiB pages: about 6 MiB less per idle VM, about 0.45 s slower runs under TCG)")
	fs.BoolVar(&o.KSM, "ksm", false, "turn the host's KSM daemon on when vchd starts (host-wide: /sys/kernel/mm/ksm/run=1); merges identical guest pages")
	templates := fs.Bool("vm-templates", true, "start containers as copy-on-write clones of a saved template VM (one per VM shape, the default one made when the VCH starts; other shapes cold-boot once while theirs is made); --vm-templates=false cold-boots every container")
	fs.Var(&vstores, "volume-store", "PATH:LABEL where volumes live (repeatable); label default holds anonymous volumes (default ROOT/volumes:default)")
	fs.Var(&bindAllow, "bind-allow", "host directory (absolute) under which containers may bind mount, -v /host/dir:/path (repeatable; default: no bind mounts)")
	fs.Var(&cnames, "tls-cname", "extra server certificate name (repeatable)")
	fs.Var(&tlsCAs, "tls-ca", "PEM file of a CA whose client certificates are accepted, besides the VCH's own (repeatable)")
	fs.Var(&insecure, "insecure-registry", "registry (host[:port] or CIDR) reached with unverified TLS or HTTP (repeatable)")
	fs.Var(&registryCAs, "registry-ca", "PEM file of a CA trusted for registries, besides the system's (repeatable)")
	fs.Var(&whitelist, "whitelist-registry", "only these registries may be used: host[:port], CIDR or *.domain (repeatable)")
	fs.Var(&mirrors, "registry-mirror", "Docker Hub mirror, http[s]://host[:port], tried first (repeatable)")
	fs.BoolVar(&o.NoTLS, "no-tls", false, "serve the Docker API without TLS (INSECURE)")
	fs.BoolVar(&o.NoVerify, "no-tlsverify", false, "do not require client certificates (INSECURE)")
	fs.StringVar(&o.NameConvention, "container-name-convention", "", "name of container VMs and their processes, with {name} and {id}, e.g. myteam-{name}")
	fs.BoolVar(&o.Debug, "debug", false, "debug logging in vchd and the tethers")
	fs.StringVar(&o.BridgeRange, "bridge-network-range", local.DefaultBridgeRange, "range the bridge network's /16 is taken from")
	fs.StringVar(&o.BridgeIPv6Range, "bridge-network-ipv6-range", "", "IPv6 subnet of the bridge network, e.g. fd00:1::/64: containers on bridge get an IPv6 address too, outbound IPv6 is masqueraded (default: IPv4 only)")
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for the VCH to answer")
	fs.StringVar(&o.SyslogAddress, "syslog-address", "", "also send container output to this syslog server: udp://host:port or tcp://host:port (RFC 5424)")
	lf := limitFlags(fs)
	cn := containerNetworkFlags(fs)
	if err := parse(fs, args); err != nil {
		return o, err
	}
	o.NoTemplates = !*templates
	if err := lf.apply(fs, &o.Limits); err != nil {
		return o, err
	}
	if o.SyslogAddress != "" {
		if _, _, err := syslog.ParseAddress(o.SyslogAddress); err != nil {
			return o, err
		}
	}
	var err error
	if o.ContainerNetworks, err = cn.parse(); err != nil {
		return o, err
	}
	o.TLSCNames = cnames
	o.TLSCAs = tlsCAs
	o.BindAllow = bindAllow
	for _, v := range vstores {
		vs, err := local.ParseVolumeStore(v)
		if err != nil {
			return o, err
		}
		o.VolumeStores = append(o.VolumeStores, vs)
	}
	o.Registry.Insecure, o.Registry.Whitelist, o.Registry.Mirrors = insecure, whitelist, mirrors
	o.RegistryCAs = registryCAs
	o.Timeout = timeout
	mem, err := parseSize(memory)
	if err != nil {
		return o, fmt.Errorf("--container-memory: %w", err)
	}
	o.MemoryMB = mem >> 20
	if o.BaseImage, err = parseSize(baseImage); err != nil {
		return o, fmt.Errorf("--base-image-size: %w", err)
	}
	return o, nil
}

func create(ctx context.Context, args []string) error {
	o, err := parseCreate(args)
	if err != nil {
		return err
	}
	if o.NoTLS || o.NoVerify {
		fmt.Fprintln(os.Stderr, "WARNING: this VCH accepts Docker API clients WITHOUT certificate authentication")
	}
	env, err := local.Create(ctx, o)
	if err != nil {
		return err
	}
	fmt.Print(env.Lines())
	return nil
}

func del(args []string) error {
	fs := newFlags("delete")
	var o local.DeleteOptions
	fs.StringVar(&o.Name, "name", "virtual-container-host", "VCH name")
	fs.StringVar(&o.StateDir, "state-dir", "", "base directory of VCHs")
	fs.BoolVar(&o.Force, "force", false, "delete even while containers exist (their VMs are killed), and the volume stores' volumes")
	if err := parse(fs, args); err != nil {
		return err
	}
	kept, err := local.Delete(o)
	if err != nil {
		return err
	}
	for _, s := range kept {
		fmt.Printf("Volume store %s kept at %s (delete with --force to remove its volumes)\n", s.Label, s.Path)
	}
	fmt.Printf("Completed successfully: VCH %s deleted\n", o.Name)
	return nil
}

func ls(args []string) error {
	fs := newFlags("ls")
	stateDir := fs.String("state-dir", "", "base directory of VCHs")
	if err := parse(fs, args); err != nil {
		return err
	}
	vchs, err := local.List(*stateDir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPATH\tNAME\tVERSION\tUPGRADE STATUS")
	for _, v := range vchs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.Path, v.Name, v.Version, upgradeStatus(v.Version))
	}
	return tw.Flush()
}

func upgradeStatus(v string) string {
	if v == version.Version {
		return "Up to date"
	}
	return "Upgradeable to " + version.Version
}

// inspect shows a VCH; `inspect config` prints the create command line that
// makes the same VCH.
func inspect(args []string) error {
	showConfig := len(args) > 0 && args[0] == "config"
	if showConfig {
		args = args[1:]
	}
	fs := newFlags("inspect")
	name := fs.String("name", "virtual-container-host", "VCH name")
	stateDir := fs.String("state-dir", "", "base directory of VCHs")
	if err := parse(fs, args); err != nil {
		return err
	}
	v, err := local.Inspect(*stateDir, *name)
	if err != nil {
		return err
	}
	if showConfig {
		fmt.Println(local.ShellQuote(local.CommandLine(v.Config)))
		return nil
	}
	c := v.Config
	state := "stopped (start it with vic-machine start --name " + v.Name + ")"
	if v.Running {
		state = "running"
		if v.Supervised {
			state += ", supervised (restarted if it dies)"
		}
	}
	row := func(k, val string) { fmt.Printf("%s: %s\n", k, val) }
	row("Name", v.Name)
	row("ID", v.ID)
	row("Path", v.Path)
	row("Version", v.Version+" ("+upgradeStatus(v.Version)+")")
	row("Daemon", state)
	row("Docker endpoint", v.Env.Host+" (listening on "+c.APIAddr+")")
	switch {
	case c.NoTLS:
		row("TLS", "off: plain HTTP, anyone who reaches the port may use the VCH (INSECURE)")
	case c.NoTLSVerify:
		row("TLS", "on, client certificates not verified (INSECURE)")
	default:
		row("TLS", "on, client certificates required (tlsverify)")
	}
	if !c.NoTLS {
		row("Client certificates", filepath.Join(c.Root, "certs")+" (ca.pem, cert.pem, key.pem)")
		row("Server certificate", c.ServerCert)
		row("CA certificate", c.CACert)
		if c.ClientCAFile != "" {
			row("Extra client CAs", c.ClientCAFile+" (from "+strings.Join(c.TLSCAFiles, ", ")+")")
		}
		if len(c.TLSCNames) > 0 {
			row("Extra server names", strings.Join(c.TLSCNames, ", "))
		}
	}
	row("Container VM limits", fmt.Sprintf("%d vCPU, %d MiB memory, %s writable layer (defaults per container)", c.CPUs, c.MemoryMB, humanSize(c.BaseImageSize)))
	if c.TemplatesOn() {
		row("VM templates", "on: containers start as clones of a saved template VM (off: vic-machine configure --vm-templates=false)")
	} else {
		row("VM templates", "off: every container cold-boots its VM (on: vic-machine configure --vm-templates)")
	}
	host, err := limits.ReadHost()
	if err != nil {
		return err
	}
	for _, r := range limits.Rows(c.Limits, host) {
		row(r[0], r[1])
	}
	if c.ContainerNameConvention != "" {
		row("Container name convention", c.ContainerNameConvention)
	}
	row("Image store", filepath.Join(c.Root, "images"))
	stores := c.VolumeStores
	if len(stores) == 0 {
		row("Volume store default", filepath.Join(c.Root, "volumes"))
	}
	for _, s := range stores {
		row("Volume store "+s.Label, s.Path)
	}
	if len(c.BindAllow) > 0 {
		row("Bind mounts allowed under", strings.Join(c.BindAllow, ", "))
	} else {
		row("Bind mounts allowed under", "(none)")
	}
	bridge := c.BridgeNetworkRange
	if bridge == "" {
		bridge = local.DefaultBridgeRange
	}
	row("Bridge network range", bridge)
	if c.BridgeNetworkIPv6Range != "" {
		row("Bridge network IPv6", c.BridgeNetworkIPv6Range)
	}
	if c.SyslogAddress != "" {
		row("Syslog", c.SyslogAddress+" (container output, RFC 5424)")
	}
	for _, n := range c.ContainerNetworks {
		dns := ""
		if len(n.DNS) > 0 {
			dns = ", DNS " + strings.Join(n.DNS, " ")
		}
		v6 := ""
		if n.Gateway6 != "" {
			v6 = fmt.Sprintf(", IPv6 gateway %s, addresses %s", n.Gateway6, n.IPRange6)
		}
		row("Container network "+n.Alias, fmt.Sprintf("bridge %s, gateway %s, addresses %s%s%s, firewall %s", n.Bridge, n.Gateway, n.IPRange, v6, dns, n.Firewall))
	}
	if r := c.Registry; len(r.Insecure)+len(r.Whitelist)+len(r.Mirrors) > 0 || r.CAFile != "" {
		row("Insecure registries", strings.Join(r.Insecure, ", "))
		row("Registry whitelist", strings.Join(r.Whitelist, ", "))
		row("Registry mirrors", strings.Join(r.Mirrors, ", "))
		row("Registry CAs", r.CAFile)
	}
	fmt.Printf("\nDocker environment:\n%s", v.Env.Lines())
	return nil
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func start(ctx context.Context, args []string) error {
	fs := newFlags("start")
	o := local.StartOptions{}
	fs.StringVar(&o.Name, "name", "virtual-container-host", "VCH name")
	fs.StringVar(&o.StateDir, "state-dir", "", "base directory of VCHs")
	fs.StringVar(&o.VCHD, "vchd", filepath.Join(binDir(), "vchd"), "vchd binary")
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "how long to wait for the VCH to answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !given(fs, "vchd") { // a rolled-back VCH keeps its kept vchd
		o.VCHD = local.VCHDFor(o.StateDir, o.Name, o.VCHD, version.Version)
	}
	if err := local.Start(ctx, o); err != nil {
		return err
	}
	v, err := local.Inspect(o.StateDir, o.Name)
	if err != nil {
		return err
	}
	fmt.Print(v.Env.Lines())
	return nil
}

func stopVCH(args []string) error {
	fs := newFlags("stop")
	name := fs.String("name", "virtual-container-host", "VCH name")
	stateDir := fs.String("state-dir", "", "base directory of VCHs")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := local.Stop(*stateDir, *name); err != nil {
		return err
	}
	fmt.Printf("Completed successfully: VCH %s stopped (container VMs keep running)\n", *name)
	return nil
}

// supervise is the VCH's supervisor process, started detached by create
// and start (not meant to be typed).
func supervise(ctx context.Context, args []string) error {
	fs := newFlags("supervise")
	root := fs.String("root", "", "VCH directory")
	vchd := fs.String("vchd", filepath.Join(binDir(), "vchd"), "vchd binary")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *root == "" {
		return fmt.Errorf("--root is required")
	}
	return local.Supervise(ctx, *root, *vchd)
}

// cnFlags are the --container-network* options of create and configure.
type cnFlags struct{ nets, ranges, gateways, dns, firewalls stringList }

func containerNetworkFlags(fs *flag.FlagSet) *cnFlags {
	c := &cnFlags{}
	fs.Var(&c.nets, "container-network", "BRIDGE[:alias]: a host bridge (made if missing) containers join directly with --network alias, reachable without NAT (repeatable; configure adds one or replaces the alias's)")
	fs.Var(&c.ranges, "container-network-ip-range", "alias:FROM-TO: the addresses containers get on that network; given once more with IPv6 addresses (with an IPv6 gateway), containers get an IPv6 address too")
	fs.Var(&c.gateways, "container-network-gateway", "alias:GW/PREFIX: the network's gateway and subnet; an IPv6 GW/PREFIX (once more) gives the network IPv6")
	fs.Var(&c.dns, "container-network-dns", "alias:IP: a name server of that network (repeatable)")
	fs.Var(&c.firewalls, "container-network-firewall", "alias:LEVEL: closed, outbound, published (the default: published ports only), peers or open")
	return c
}

func (c *cnFlags) given() bool {
	return len(c.nets)+len(c.ranges)+len(c.gateways)+len(c.dns)+len(c.firewalls) > 0
}

func (c *cnFlags) parse() ([]vchconfig.ContainerNetwork, error) {
	return vchconfig.ParseContainerNetworks(c.nets, c.ranges, c.gateways, c.dns, c.firewalls)
}

// given reports whether a flag was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}
