package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vchproject/vch/backends/syslog"
	"github.com/vchproject/vch/machine/certs"
	"github.com/vchproject/vch/machine/firewall"
	"github.com/vchproject/vch/machine/lockfile"
	"github.com/vchproject/vch/machine/vchconfig"
	netlocal "github.com/vchproject/vch/portlayer/network/local"
	volumelocal "github.com/vchproject/vch/portlayer/volume/local"
)

// DefaultStateDir is where VCHs live unless told otherwise.
const DefaultStateDir = "/var/lib/vch"

// StateDir returns the base dir: flag value, else $VCH_STATE_DIR, else the default.
func StateDir(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := os.Getenv("VCH_STATE_DIR"); v != "" {
		return v
	}
	return DefaultStateDir
}

// CreateOptions for Create.
type CreateOptions struct {
	Name      string
	StateDir  string
	APIPort   int
	BindAddr  string // listen address, default 0.0.0.0
	VCHD      string // path of the vchd binary
	Self      string // vic-machine binary that supervises vchd; default: this executable
	Tether    string // path of the tether binary
	KernelDir string
	Accel     string
	MemoryMB  int64
	CPUs      int
	BaseImage int64 // writable layer size, bytes
	// TCGTBSizeMB caps each VM's TCG translation cache; 0: default.
	TCGTBSizeMB int
	// TCGTBSizeClonesMB is the same for template clones; 0: default.
	TCGTBSizeClonesMB int
	// GuestMemory backs guest RAM: "anon", "memfd" or "" (default).
	GuestMemory string
	// KSM turns the host's ksmd on when vchd starts (opt-in).
	KSM bool
	// NoTemplates turns template clones off (containers start as clones
	// of a saved template VM by default).
	NoTemplates bool
	// VolumeStores; none means ROOT/volumes labelled "default".
	VolumeStores []vchconfig.VolumeStore
	// BindAllow: host directories containers may bind mount from.
	BindAllow []string
	TLSCNames []string
	// TLSCAs are PEM files of CAs whose client certificates the VCH
	// accepts besides its own CA's (--tls-ca).
	TLSCAs   []string
	NoTLS    bool
	NoVerify bool
	Debug    bool
	// NameConvention names container VMs ({name}, {id}); "": default.
	NameConvention string
	Timeout        time.Duration
	Version        string // recorded for ls
	// BridgeRange is the CIDR the bridge network's /16 comes from.
	BridgeRange string
	// BridgeIPv6Range is the bridge network's IPv6 subnet; empty: none.
	BridgeIPv6Range string
	// Registry settings; RegistryCAs are PEM files, copied into the VCH.
	Registry    vchconfig.Registry
	RegistryCAs []string
	// Limits cap the whole VCH (cgroup over vchd and its VMs).
	Limits vchconfig.Limits
	// SyslogAddress also receives container output ("": none).
	SyslogAddress string
	// ContainerNetworks are the --container-network* options, parsed.
	ContainerNetworks []vchconfig.ContainerNetwork
}

// Env is what a docker user exports to reach a VCH.
type Env struct {
	Host     string // tcp://host:port
	CertPath string
	TLS      bool
	Verify   bool
}

// Lines renders the export lines vic-machine prints.
func (e Env) Lines() string {
	var b strings.Builder
	fmt.Fprintf(&b, "export DOCKER_HOST=%s\n", e.Host)
	if e.TLS && e.Verify {
		b.WriteString("export DOCKER_TLS_VERIFY=1\n")
	}
	if e.TLS {
		fmt.Fprintf(&b, "export DOCKER_CERT_PATH=%s\n", e.CertPath)
	}
	return b.String()
}

var validName = func(n string) bool {
	if n == "" || len(n) > 63 {
		return false
	}
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '-' || r == '_' || r == '.'))
		if !ok {
			return false
		}
	}
	return true
}

// Defaults of vic-machine create's options.
const (
	DefaultAPIPort     = 2376
	DefaultBind        = "0.0.0.0"
	DefaultMemoryMB    = 512
	DefaultCPUs        = 1
	DefaultBaseImage   = 8 << 30
	DefaultBridgeRange = "172.16.0.0/12"
	DefaultKernelDir   = "/var/cache/vch/kernel"
	DefaultAccel       = "auto"
)

// Create validates everything, then makes and starts a VCH. A create that
// fails validation changes nothing; one that fails later is rolled back.
func Create(ctx context.Context, o CreateOptions) (env Env, err error) {
	if o.APIPort == 0 {
		o.APIPort = DefaultAPIPort
	}
	if o.BindAddr == "" {
		o.BindAddr = DefaultBind
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if err := validateVMOptions(o); err != nil {
		return env, err
	}
	caPEM, err := validateCreate(o)
	if err != nil {
		return env, err
	}
	root := filepath.Join(StateDir(o.StateDir), o.Name)
	// A directory without a config holds volume stores that a delete
	// without --force kept: they are reused, and survive a rollback.
	_, statErr := os.Stat(root)
	existed := statErr == nil
	if err := os.MkdirAll(root, 0o700); err != nil {
		return env, fmt.Errorf("create VCH dir: %w", err)
	}
	defer func() {
		if err != nil {
			stopVCHD(root, 5*time.Second)
			killVMs(root)
			_ = netlocal.Destroy(filepath.Join(root, "network"))
			removeCgroup(root)
			if existed {
				_ = removeExcept(root, storePaths(root, o.VolumeStores))
			} else {
				os.RemoveAll(root)
			}
		}
	}()
	stores, err := prepareVolumeStores(root, o.VolumeStores)
	if err != nil {
		return env, err
	}
	if o.BindAllow, err = CheckBindAllow(o.BindAllow); err != nil {
		return env, err
	}
	certDir := filepath.Join(root, "certs")
	names, ips := certs.HostSANs()
	names = append(names, o.TLSCNames...)
	if err := certs.Generate(certDir, filepath.Join(root, "ca-key.pem"), certs.Options{CommonName: o.Name, DNSNames: names, IPs: ips}); err != nil {
		return env, err
	}
	cfg := ConfigFor(o, root, stores)
	if len(o.TLSCAs) > 0 {
		pem, err := vchconfig.ReadCAs("--tls-ca", "the CA that signs your clients' certificates", o.TLSCAs)
		if err != nil {
			return env, err
		}
		cfg.ClientCAFile = filepath.Join(certDir, "client-ca.pem")
		if err := os.WriteFile(cfg.ClientCAFile, pem, 0o644); err != nil {
			return env, err
		}
	}
	if len(caPEM) > 0 {
		cfg.Registry.CAFile = filepath.Join(root, "registry-ca.pem")
		if err := os.WriteFile(cfg.Registry.CAFile, caPEM, 0o644); err != nil {
			return env, err
		}
	}
	if err := cfg.Save(vchconfig.Path(root)); err != nil {
		return env, err
	}
	if err := os.WriteFile(filepath.Join(root, "version"), []byte(o.Version+"\n"), 0o644); err != nil {
		return env, err
	}
	sup, err := launch(root, o.Self, o.VCHD)
	if err != nil {
		return env, err
	}
	env = EnvFor(cfg)
	if err := waitSupervised(ctx, root, cfg, sup, 0, o.Timeout); err != nil {
		return env, err
	}
	return env, nil
}

// ConfigFor is the configuration a create with o writes for a VCH at root
// with the given (prepared) volume stores.
func ConfigFor(o CreateOptions, root string, stores []vchconfig.VolumeStore) *vchconfig.Config {
	certDir := filepath.Join(root, "certs")
	return &vchconfig.Config{
		Name:          o.Name,
		Root:          root,
		APIAddr:       net.JoinHostPort(o.BindAddr, strconv.Itoa(o.APIPort)),
		CACert:        filepath.Join(certDir, certs.CA),
		ServerCert:    filepath.Join(certDir, certs.ServerCert),
		ServerKey:     filepath.Join(certDir, certs.ServerKey),
		NoTLS:         o.NoTLS,
		NoTLSVerify:   o.NoVerify,
		TLSCNames:     o.TLSCNames,
		TLSCAFiles:    o.TLSCAs,
		KernelDir:     o.KernelDir,
		TetherPath:    o.Tether,
		Accel:         o.Accel,
		MemoryMB:      o.MemoryMB,
		CPUs:          o.CPUs,
		BaseImageSize: o.BaseImage,
		VolumeStores:  stores,
		BindAllow:     o.BindAllow,
		Debug:         o.Debug,

		TCGTBSizeMB:       o.TCGTBSizeMB,
		TCGTBSizeClonesMB: o.TCGTBSizeClonesMB,
		GuestMemory:       o.GuestMemory,
		KSM:               o.KSM,
		Templates:         new(!o.NoTemplates),

		ContainerNameConvention: o.NameConvention,
		BridgeNetworkRange:      o.BridgeRange,
		BridgeNetworkIPv6Range:  o.BridgeIPv6Range,
		ContainerNetworks:       o.ContainerNetworks,
		Registry:                o.Registry,
		RegistryCAFiles:         o.RegistryCAs,
		Limits:                  o.Limits,
		SyslogAddress:           o.SyslogAddress,
	}
}

// validateCreate checks everything a create needs before anything is
// made; each failure is one line saying what is wrong and what to do. It
// returns the registry CAs' PEM.
func validateCreate(o CreateOptions) ([]byte, error) {
	if !validName(o.Name) {
		return nil, fmt.Errorf("invalid VCH name %q: use letters, digits, '-', '_' and '.' (at most 63, starting with a letter or digit)", o.Name)
	}
	base := StateDir(o.StateDir)
	root := filepath.Join(base, o.Name)
	if _, err := os.Stat(vchconfig.Path(root)); err == nil {
		return nil, fmt.Errorf("VCH %q already exists at %s: choose another --name, or remove it with vic-machine delete --name %s", o.Name, root, o.Name)
	}
	if o.APIPort <= 0 || o.APIPort > 65535 {
		return nil, fmt.Errorf("--api-port %d is not a TCP port: use 1-65535", o.APIPort)
	}
	if ip := net.ParseIP(o.BindAddr); ip == nil {
		return nil, fmt.Errorf("--bind %q is not an IP address: use e.g. 0.0.0.0 or 127.0.0.1", o.BindAddr)
	}
	if other := portOwner(base, o.APIPort); other != "" {
		return nil, fmt.Errorf("--api-port %d is the port of VCH %q: choose another port with --api-port", o.APIPort, other)
	}
	if err := portFree(o.BindAddr, o.APIPort); err != nil {
		return nil, err
	}
	if o.BridgeRange != "" {
		pfx, err := netip.ParsePrefix(o.BridgeRange)
		if err != nil || !pfx.Addr().Is4() || pfx.Bits() > 24 {
			return nil, fmt.Errorf("--bridge-network-range %q: an IPv4 CIDR of at least /24 is needed, e.g. %s", o.BridgeRange, DefaultBridgeRange)
		}
		if name, other := rangeOwner(base, pfx); name != "" {
			return nil, fmt.Errorf("--bridge-network-range %s overlaps %s of VCH %q: choose a range that does not overlap", o.BridgeRange, other, name)
		}
	}
	if err := checkBridgeIPv6(o.BridgeIPv6Range); err != nil {
		return nil, err
	}
	if err := checkContainerNetworks(o.ContainerNetworks, o.BridgeRange); err != nil {
		return nil, err
	}
	for _, s := range o.VolumeStores {
		if err := checkStorePath(s); err != nil {
			return nil, err
		}
	}
	for _, p := range []string{o.VCHD, o.Tether} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("missing binary %s: run make, or point --vchd/--tether at it", p)
		}
	}
	if o.NameConvention != "" {
		if err := vchconfig.ValidateNameConvention(o.NameConvention); err != nil {
			return nil, err
		}
	}
	if err := validateLimits(o.Limits, o.MemoryMB); err != nil {
		return nil, err
	}
	if o.SyslogAddress != "" {
		if _, _, err := syslog.ParseAddress(o.SyslogAddress); err != nil {
			return nil, err
		}
	}
	if len(o.TLSCAs) > 0 && o.NoTLS {
		return nil, fmt.Errorf("--tls-ca needs TLS: drop --no-tls, or drop --tls-ca")
	}
	if _, err := vchconfig.ReadCAs("--tls-ca", "the CA that signs your clients' certificates", o.TLSCAs); err != nil {
		return nil, err
	}
	return vchconfig.ValidateRegistry(o.Registry, o.RegistryCAs)
}

// portOwner names the VCH under base whose API port is port, if any (a
// stopped VCH keeps its port).
func portOwner(base string, port int) string {
	vchs, _ := List(base)
	for _, v := range vchs {
		if _, p, err := net.SplitHostPort(v.Config.APIAddr); err == nil && p == strconv.Itoa(port) {
			return v.Name
		}
	}
	return ""
}

// rangeOwner names a VCH under base whose explicitly given bridge network
// range overlaps pfx. The default range is shared on purpose: each VCH
// takes a /16 of it that no route overlaps.
func rangeOwner(base string, pfx netip.Prefix) (string, string) {
	if pfx.String() == DefaultBridgeRange {
		return "", ""
	}
	vchs, _ := List(base)
	for _, v := range vchs {
		r := v.Config.BridgeNetworkRange
		if r == "" || r == DefaultBridgeRange {
			continue
		}
		if other, err := netip.ParsePrefix(r); err == nil && other.Overlaps(pfx) {
			return v.Name, r
		}
	}
	return "", ""
}

// removeExcept removes everything under root except keep (paths under
// root) and the directories leading to them.
func removeExcept(root string, keep []string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		held := false
		for _, k := range keep {
			if k == p || strings.HasPrefix(k, p+string(filepath.Separator)) {
				held = true
				if k != p {
					if err := removeExcept(p, keep); err != nil {
						return err
					}
				}
				break
			}
		}
		if !held {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// storePaths are the volume store directories of a VCH at root.
func storePaths(root string, stores []vchconfig.VolumeStore) []string {
	if len(stores) == 0 {
		return []string{filepath.Join(root, "volumes")}
	}
	var out []string
	for _, s := range stores {
		out = append(out, s.Path)
	}
	return out
}

// EnvFor derives the export lines of a VCH from its config.
func EnvFor(cfg *vchconfig.Config) Env {
	host, port, _ := net.SplitHostPort(cfg.APIAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return Env{
		Host:     "tcp://" + net.JoinHostPort(host, port),
		CertPath: filepath.Join(cfg.Root, "certs"),
		TLS:      !cfg.NoTLS,
		Verify:   !cfg.NoTLS && !cfg.NoTLSVerify,
	}
}

func portFree(addr string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("--api-port %d is already in use on %s: choose a free port with --api-port", port, addr)
	}
	return l.Close()
}

// StartOptions for Start.
type StartOptions struct {
	StateDir string
	Name     string
	VCHD     string // vchd binary
	Timeout  time.Duration
}

// Start starts an existing VCH's supervisor and vchd (after a host reboot,
// a stop, or a crash of both), unless they run; it returns when the API
// answers. Restart policies then restart containers in the background.
func Start(ctx context.Context, o StartOptions) error {
	root := filepath.Join(StateDir(o.StateDir), o.Name)
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		return fmt.Errorf("VCH %q not found in %s: %w", o.Name, StateDir(o.StateDir), err)
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if sup := supervisorPid(root); sup > 0 {
		return waitSupervised(ctx, root, cfg, sup, fileSize(filepath.Join(root, vchconfig.LogFile)), o.Timeout)
	}
	if err := startVCHD(root, o.VCHD, cfg.Debug); err != nil {
		return err
	}
	return waitReady(ctx, root, cfg, o.Timeout)
}

// Stop stops a VCH's supervisor and vchd; container VMs keep running and
// are re-attached by the next start.
func Stop(stateDir, name string) error {
	root := filepath.Join(StateDir(stateDir), name)
	if _, err := vchconfig.Load(vchconfig.Path(root)); err != nil {
		return fmt.Errorf("VCH %q not found in %s: %w", name, StateDir(stateDir), err)
	}
	stopVCHD(root, 20*time.Second)
	return nil
}

func launch(root, self, vchd string) (int, error) {
	if self == "" {
		exe, err := os.Executable()
		if err != nil {
			return 0, err
		}
		self = exe
	}
	return launchSupervisor(root, self, vchd)
}

// startVCHD starts the VCH's supervisor, which runs vchd (debug comes from
// the config); waitReady then waits for the API. For callers that restart
// a VCH after changing its config (configure).
func startVCHD(root, vchd string, _ bool) error {
	_, err := launch(root, "", vchd)
	return err
}

// waitReady waits for the API of a VCH whose supervisor was just started
// by startVCHD; a vchd that dies meanwhile fails it.
func waitReady(ctx context.Context, root string, cfg *vchconfig.Config, timeout time.Duration) error {
	logPath := filepath.Join(root, vchconfig.LogFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if sup := supervisorPid(root); sup > 0 {
			if off, ok := supervisorLogStart(logPath, sup); ok {
				return waitSupervised(ctx, root, cfg, sup, off, timeout)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the VCH's supervisor did not start:\n%s", tail(logPath, 20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitSupervised waits until the API answers; it fails if the supervisor
// dies or logs a vchd death after logOffset.
func waitSupervised(ctx context.Context, root string, cfg *vchconfig.Config, supervisor int, logOffset int64, timeout time.Duration) error {
	client, err := apiClient(cfg)
	if err != nil {
		return err
	}
	env := EnvFor(cfg)
	scheme := "https"
	if cfg.NoTLS {
		scheme = "http"
	}
	url := scheme + "://" + strings.TrimPrefix(env.Host, "tcp://") + "/_ping"
	deadline := time.Now().Add(timeout)
	logPath := filepath.Join(root, vchconfig.LogFile)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !alive(supervisor) || diedDuringStart(logPath, logOffset) {
			// A vchd that cannot start would be restarted for ever.
			stopVCHD(root, 5*time.Second)
			return fmt.Errorf("vchd exited during start-up:\n%s", tail(logPath, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vchd did not answer %s within %s (last error: %v):\n%s", url, timeout, err, tail(logPath, 20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func apiClient(cfg *vchconfig.Config) (*http.Client, error) {
	tr := &http.Transport{}
	if !cfg.NoTLS {
		dir := filepath.Join(cfg.Root, "certs")
		ca, err := os.ReadFile(filepath.Join(dir, certs.CA))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		kp, err := tls.LoadX509KeyPair(filepath.Join(dir, certs.ClientCert), filepath.Join(dir, certs.ClientKey))
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, nil
}

// DeleteOptions for Delete.
type DeleteOptions struct {
	Name     string
	StateDir string
	// Force deletes a VCH that still has containers (their VMs are
	// killed) and its volume stores' volumes.
	Force bool
}

// Delete stops a VCH and removes its VMs, networks, rules, certificates and
// state. Without Force it refuses while containers exist, and keeps the
// volume stores (a VCH created again with the same name and stores finds
// its volumes); it returns the stores it kept.
func Delete(o DeleteOptions) ([]vchconfig.VolumeStore, error) {
	base := StateDir(o.StateDir)
	root := filepath.Join(base, o.Name)
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		return nil, fmt.Errorf("VCH %q not found in %s: check the name with vic-machine ls", o.Name, base)
	}
	if n := containerCount(root); n > 0 && !o.Force {
		return nil, fmt.Errorf("VCH %q has %d container(s): remove them first (docker rm -f $(docker ps -aq)) or delete with --force", o.Name, n)
	}
	stores := cfg.VolumeStores
	if len(stores) == 0 {
		stores = []vchconfig.VolumeStore{{Path: filepath.Join(root, "volumes"), Label: "default"}}
	}
	stopVCHD(root, 10*time.Second)
	killVMs(root)
	// Shared volumes are mounted on the host while the VCH lives; no
	// mount may outlive it (nor may RemoveAll walk into one).
	for _, s := range stores {
		if err := volumelocal.Unmount(s.Path); err != nil {
			return nil, fmt.Errorf("volume store %s: %w", s.Label, err)
		}
	}
	if err := netlocal.Destroy(filepath.Join(root, "network")); err != nil {
		return nil, fmt.Errorf("remove the VCH's networks: %w", err)
	}
	removeCgroup(root)
	if cfg.Firewall != "" {
		if err := firewall.Remove(cfg.Name); err != nil {
			return nil, fmt.Errorf("remove the VCH's firewall rule: %w", err)
		}
	}
	if o.Force {
		for _, s := range stores {
			if err := os.RemoveAll(volumelocal.VolumesDir(s.Path)); err != nil {
				return nil, fmt.Errorf("remove volume store %s: %w", s.Label, err)
			}
		}
		if err := os.RemoveAll(root); err != nil {
			return nil, fmt.Errorf("remove %s: %w", root, err)
		}
		return nil, nil
	}
	var inside []string
	for _, s := range stores {
		if strings.HasPrefix(s.Path, root+string(filepath.Separator)) {
			inside = append(inside, s.Path)
		}
	}
	if err := removeExcept(root, inside); err != nil {
		return nil, fmt.Errorf("remove %s: %w", root, err)
	}
	if len(inside) == 0 {
		if err := os.Remove(root); err != nil {
			return nil, fmt.Errorf("remove %s: %w", root, err)
		}
	}
	return stores, nil
}

// containerCount counts the containers (running or not) of a VCH.
func containerCount(root string) int {
	entries, _ := os.ReadDir(filepath.Join(root, "containers"))
	n := 0
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 64 && strings.Trim(e.Name(), "0123456789abcdef") == "" {
			n++
		}
	}
	return n
}

// runningVMs finds the QEMU processes of a VCH by their pidfiles.
func runningVMs(root string) []int {
	var pids []int
	_ = filepath.WalkDir(filepath.Join(root, "containers"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "qemu.pid" {
			return nil
		}
		if pid := lockfile.ReadPid(p); pid > 0 && isProcess(pid, "qemu") {
			pids = append(pids, pid)
		}
		return nil
	})
	sort.Ints(pids)
	return pids
}

func killVMs(root string) {
	for _, pid := range runningVMs(root) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 100 && alive(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// isProcess checks that pid runs a program whose name contains want, so a
// recycled pid is never signalled.
func isProcess(pid int, want string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv0 := strings.SplitN(string(b), "\x00", 2)[0]
	return alive(pid) && strings.Contains(filepath.Base(argv0), want)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// VCH is one entry of List.
type VCH struct {
	ID      string
	Path    string
	Name    string
	Version string
	Running bool
	// Supervised: a supervisor restarts vchd if it dies.
	Supervised bool
	Env        Env
	Config     *vchconfig.Config
}

// List returns the VCHs under the state dir, by name.
func List(stateDir string) ([]VCH, error) {
	base := StateDir(stateDir)
	entries, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []VCH
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		v, err := Inspect(base, e.Name())
		if err != nil {
			continue
		}
		out = append(out, *v)
	}
	return out, nil
}

// Inspect describes one VCH.
func Inspect(stateDir, name string) (*VCH, error) {
	root := filepath.Join(StateDir(stateDir), name)
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		return nil, fmt.Errorf("VCH %q not found: %w", name, err)
	}
	id := "-"
	if b, err := os.ReadFile(filepath.Join(root, "docker", "engine-id")); err == nil {
		id = strings.TrimSpace(string(b))
	}
	return &VCH{
		ID: id, Path: root, Name: cfg.Name, Version: versionOf(root),
		Running: vchdPid(root) > 0, Supervised: supervisorPid(root) > 0, Env: EnvFor(cfg), Config: cfg,
	}, nil
}

func versionOf(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "version"))
	if err != nil {
		return "-"
	}
	return strings.TrimSpace(string(b))
}

// checkContainerNetworks refuses container networks that conflict with
// each other or lie in the bridge network range (bridge networks' /16s
// come from there).
func checkContainerNetworks(nets []vchconfig.ContainerNetwork, bridgeRange string) error {
	if bridgeRange == "" {
		bridgeRange = DefaultBridgeRange
	}
	br, err := netip.ParsePrefix(bridgeRange)
	if err != nil {
		return fmt.Errorf("bridge network range %q: %w", bridgeRange, err)
	}
	for _, n := range nets {
		if err := n.Validate(); err != nil {
			return err
		}
		gw, _, _, _, _ := n.Parsed()
		if gw.Masked().Overlaps(br) {
			return fmt.Errorf("container network %s: subnet %s overlaps the bridge network range %s: choose a subnet outside it (or another --bridge-network-range)", n.Alias, gw.Masked(), br)
		}
	}
	return vchconfig.CheckContainerNetworks(nets)
}

// checkBridgeIPv6 validates --bridge-network-ipv6-range: an IPv6 CIDR of
// at most /120 (the bridge's ::1 is the gateway).
func checkBridgeIPv6(r string) error {
	if r == "" {
		return nil
	}
	pfx, err := netip.ParsePrefix(r)
	if err != nil || !pfx.Addr().Is6() || pfx.Addr().Is4In6() || pfx.Bits() > 120 {
		return fmt.Errorf("--bridge-network-ipv6-range %q: an IPv6 CIDR of at most /120 is needed, e.g. fd00:1::/64", r)
	}
	if pfx.Masked() != pfx {
		return fmt.Errorf("--bridge-network-ipv6-range %s: host bits are set; use %s", r, pfx.Masked())
	}
	return nil
}
