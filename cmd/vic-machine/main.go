// Command vic-machine manages the lifecycle of Virtual Container Hosts:
// create, delete, ls, inspect, start, version.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vchproject/vch/internal/version"
	"github.com/vchproject/vch/machine/local"
)

const usage = `Usage: vic-machine COMMAND [options]

Commands:
  create    create and start a VCH, print the DOCKER_* lines to export
  delete    stop a VCH and remove everything it made
  ls        list VCHs
  inspect   show a VCH's endpoint and state
  start     start the daemon of an existing VCH
  configure change an existing VCH's settings (its containers keep running)
  version   print vic-machine's version

Run 'vic-machine COMMAND -h' for a command's options.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
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
	case "version", "--version":
		fmt.Printf("vic-machine version %s, commit %s\n", version.Version, version.GitCommit)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "vic-machine: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vic-machine %s failed: %v\n", os.Args[1], err)
		os.Exit(1)
	}
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
	return "/var/cache/vch/kernel"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// configure changes registry settings, volume stores and the debug level
// of an existing VCH and restarts its vchd; the container VMs keep running.
func configure(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("configure", flag.ExitOnError)
	o := local.ConfigureOptions{}
	var vstores, insecure, registryCAs, whitelist, mirrors stringList
	var debug bool
	fs.StringVar(&o.Name, "name", "virtual-container-host", "VCH name")
	fs.StringVar(&o.StateDir, "state-dir", "", "base directory of VCHs (default $VCH_STATE_DIR or "+local.DefaultStateDir+")")
	fs.StringVar(&o.VCHD, "vchd", filepath.Join(binDir(), "vchd"), "vchd binary")
	fs.Var(&vstores, "volume-store", "PATH:LABEL to add (repeatable); existing stores stay")
	fs.Var(&insecure, "insecure-registry", "replaces the insecure registries: host[:port] or CIDR (repeatable)")
	fs.Var(&registryCAs, "registry-ca", "replaces the trusted registry CAs: PEM file (repeatable)")
	fs.BoolVar(&o.ClearRegistryCA, "no-registry-ca", false, "trust only the system's CAs for registries")
	fs.Var(&whitelist, "whitelist-registry", "replaces the registry whitelist: host[:port], CIDR or *.domain (repeatable)")
	fs.Var(&mirrors, "registry-mirror", "replaces the Docker Hub mirrors: http[s]://host[:port] (repeatable)")
	fs.BoolVar(&debug, "debug", false, "debug logging in vchd and the tethers (--debug=false turns it off)")
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "how long to wait for the VCH to answer")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// An empty value (--whitelist-registry=) clears a list.
	nonEmpty := func(l stringList) []string {
		out := []string{}
		for _, v := range l {
			if v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	insecure, whitelist, mirrors = nonEmpty(insecure), nonEmpty(whitelist), nonEmpty(mirrors)
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
		}
	})
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

func create(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create", flag.ExitOnError)
	o := local.CreateOptions{Version: version.Version}
	var memory, baseImage string
	var cnames, vstores, insecure, registryCAs, whitelist, mirrors stringList
	var timeout time.Duration
	fs.StringVar(&o.Name, "name", "virtual-container-host", "VCH name")
	fs.StringVar(&o.StateDir, "state-dir", "", "base directory of VCHs (default $VCH_STATE_DIR or "+local.DefaultStateDir+")")
	fs.IntVar(&o.APIPort, "api-port", 2376, "Docker API port")
	fs.StringVar(&o.BindAddr, "bind", "0.0.0.0", "Docker API listen address")
	fs.StringVar(&o.VCHD, "vchd", filepath.Join(binDir(), "vchd"), "vchd binary")
	fs.StringVar(&o.Tether, "tether", filepath.Join(binDir(), "tether"), "tether binary (static)")
	fs.StringVar(&o.KernelDir, "kernel-dir", defaultKernelDir(), "guest kernel: kernel/ beside vic-machine (the bundle's), else what scripts/fetch-kernel.sh fetched")
	fs.StringVar(&o.Accel, "accel", "auto", "accelerator for container VMs: auto, kvm or tcg")
	fs.StringVar(&memory, "container-memory", "512M", "default memory of a container VM")
	fs.IntVar(&o.CPUs, "container-cpus", 1, "default vCPUs of a container VM")
	fs.StringVar(&baseImage, "base-image-size", "8G", "size cap of each container's writable layer")
	fs.Var(&vstores, "volume-store", "PATH:LABEL where volumes live (repeatable); label default holds anonymous volumes (default ROOT/volumes:default)")
	fs.Var(&cnames, "tls-cname", "extra server certificate name (repeatable)")
	fs.Var(&insecure, "insecure-registry", "registry (host[:port] or CIDR) reached with unverified TLS or HTTP (repeatable)")
	fs.Var(&registryCAs, "registry-ca", "PEM file of a CA trusted for registries, besides the system's (repeatable)")
	fs.Var(&whitelist, "whitelist-registry", "only these registries may be used: host[:port], CIDR or *.domain (repeatable)")
	fs.Var(&mirrors, "registry-mirror", "Docker Hub mirror, http[s]://host[:port], tried first (repeatable)")
	fs.BoolVar(&o.NoTLS, "no-tls", false, "serve the Docker API without TLS (INSECURE)")
	fs.BoolVar(&o.NoVerify, "no-tlsverify", false, "do not require client certificates (INSECURE)")
	fs.BoolVar(&o.Debug, "debug", false, "debug logging in vchd and the tethers")
	fs.StringVar(&o.BridgeRange, "bridge-network-range", "172.16.0.0/12", "range the bridge network's /16 is taken from")
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for the VCH to answer")
	_ = fs.Parse(args)
	o.TLSCNames = cnames
	for _, v := range vstores {
		vs, err := local.ParseVolumeStore(v)
		if err != nil {
			return err
		}
		o.VolumeStores = append(o.VolumeStores, vs)
	}
	o.Registry.Insecure, o.Registry.Whitelist, o.Registry.Mirrors = insecure, whitelist, mirrors
	o.RegistryCAs = registryCAs
	o.Timeout = timeout
	mem, err := parseSize(memory)
	if err != nil {
		return fmt.Errorf("--container-memory: %w", err)
	}
	o.MemoryMB = mem >> 20
	if o.BaseImage, err = parseSize(baseImage); err != nil {
		return fmt.Errorf("--base-image-size: %w", err)
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
	fs := flag.NewFlagSet("delete", flag.ExitOnError)
	var o local.DeleteOptions
	fs.StringVar(&o.Name, "name", "virtual-container-host", "VCH name")
	fs.StringVar(&o.StateDir, "state-dir", "", "base directory of VCHs")
	fs.BoolVar(&o.Force, "force", false, "delete even with running container VMs (they are killed)")
	_ = fs.Parse(args)
	if err := local.Delete(o); err != nil {
		return err
	}
	fmt.Printf("Completed successfully: VCH %s deleted\n", o.Name)
	return nil
}

func ls(args []string) error {
	fs := flag.NewFlagSet("ls", flag.ExitOnError)
	stateDir := fs.String("state-dir", "", "base directory of VCHs")
	_ = fs.Parse(args)
	vchs, err := local.List(*stateDir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPATH\tNAME\tVERSION\tUPGRADE STATUS")
	for _, v := range vchs {
		status := "Up to date"
		if v.Version != version.Version {
			status = "Upgradeable to " + version.Version
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.Path, v.Name, v.Version, status)
	}
	return tw.Flush()
}

func inspect(args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ExitOnError)
	name := fs.String("name", "virtual-container-host", "VCH name")
	stateDir := fs.String("state-dir", "", "base directory of VCHs")
	_ = fs.Parse(args)
	v, err := local.Inspect(*stateDir, *name)
	if err != nil {
		return err
	}
	state := "stopped"
	if v.Running {
		state = "running"
	}
	fmt.Printf("VCH %s (%s), version %s, daemon %s\nDocker API: %s\n", v.Name, v.Path, v.Version, state, v.Config.APIAddr)
	for _, s := range v.Config.VolumeStores {
		fmt.Printf("Volume store %s: %s\n", s.Label, s.Path)
	}
	fmt.Printf("\n%s", v.Env.Lines())
	return nil
}

func start(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("start", flag.ExitOnError)
	name := fs.String("name", "virtual-container-host", "VCH name")
	stateDir := fs.String("state-dir", "", "base directory of VCHs")
	vchd := fs.String("vchd", filepath.Join(binDir(), "vchd"), "vchd binary")
	_ = fs.Parse(args)
	if err := local.Start(ctx, *stateDir, *name, *vchd); err != nil {
		return err
	}
	v, err := local.Inspect(*stateDir, *name)
	if err != nil {
		return err
	}
	fmt.Print(v.Env.Lines())
	return nil
}
