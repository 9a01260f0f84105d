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
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vchproject/vch/machine/certs"
	"github.com/vchproject/vch/machine/vchconfig"
	netlocal "github.com/vchproject/vch/portlayer/network/local"
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
	Tether    string // path of the tether binary
	KernelDir string
	Accel     string
	MemoryMB  int64
	CPUs      int
	BaseImage int64 // writable layer size, bytes
	// TCGTBSizeMB caps each VM's TCG translation cache; 0: default.
	TCGTBSizeMB int
	// GuestMemory backs guest RAM: "anon", "memfd" or "" (default).
	GuestMemory string
	// KSM turns the host's ksmd on when vchd starts (opt-in).
	KSM bool
	// Templates turns on template clones (prototype).
	Templates bool
	// VolumeStores; none means ROOT/volumes labelled "default".
	VolumeStores []vchconfig.VolumeStore
	TLSCNames    []string
	NoTLS        bool
	NoVerify     bool
	Debug        bool
	Timeout      time.Duration
	Version      string // recorded for ls
	// BridgeRange is the CIDR the bridge network's /16 comes from.
	BridgeRange string
	// Registry settings; RegistryCAs are PEM files, copied into the VCH.
	Registry    vchconfig.Registry
	RegistryCAs []string
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

// Create makes and starts a VCH.
func Create(ctx context.Context, o CreateOptions) (env Env, err error) {
	if !validName(o.Name) {
		return env, fmt.Errorf("invalid VCH name %q: use letters, digits, '-', '_' and '.'", o.Name)
	}
	if o.APIPort == 0 {
		o.APIPort = 2376
	}
	if o.BindAddr == "" {
		o.BindAddr = "0.0.0.0"
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if err := validateVMOptions(o); err != nil {
		return env, err
	}
	caPEM, err := validateRegistry(o.Registry, o.RegistryCAs)
	if err != nil {
		return env, err
	}
	root := filepath.Join(StateDir(o.StateDir), o.Name)
	if _, err := os.Stat(root); err == nil {
		return env, fmt.Errorf("VCH %q already exists at %s", o.Name, root)
	}
	if err := portFree(o.BindAddr, o.APIPort); err != nil {
		return env, err
	}
	for _, p := range []string{o.VCHD, o.Tether} {
		if _, err := os.Stat(p); err != nil {
			return env, fmt.Errorf("missing binary: %w (run make)", err)
		}
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return env, fmt.Errorf("create VCH dir: %w", err)
	}
	defer func() {
		if err != nil {
			stopVCHD(root, 5*time.Second)
			killVMs(root)
			_ = netlocal.Destroy(filepath.Join(root, "network"))
			os.RemoveAll(root)
		}
	}()
	stores, err := prepareVolumeStores(root, o.VolumeStores)
	if err != nil {
		return env, err
	}
	certDir := filepath.Join(root, "certs")
	names, ips := certs.HostSANs()
	names = append(names, o.TLSCNames...)
	if err := certs.Generate(certDir, filepath.Join(root, "ca-key.pem"), certs.Options{CommonName: o.Name, DNSNames: names, IPs: ips}); err != nil {
		return env, err
	}
	cfg := &vchconfig.Config{
		Name:               o.Name,
		Root:               root,
		APIAddr:            net.JoinHostPort(o.BindAddr, strconv.Itoa(o.APIPort)),
		CACert:             filepath.Join(certDir, certs.CA),
		ServerCert:         filepath.Join(certDir, certs.ServerCert),
		ServerKey:          filepath.Join(certDir, certs.ServerKey),
		NoTLS:              o.NoTLS,
		NoTLSVerify:        o.NoVerify,
		KernelDir:          o.KernelDir,
		TetherPath:         o.Tether,
		Accel:              o.Accel,
		MemoryMB:           o.MemoryMB,
		CPUs:               o.CPUs,
		BaseImageSize:      o.BaseImage,
		TCGTBSizeMB:        o.TCGTBSizeMB,
		GuestMemory:        o.GuestMemory,
		KSM:                o.KSM,
		Templates:          o.Templates,
		VolumeStores:       stores,
		Debug:              o.Debug,
		BridgeNetworkRange: o.BridgeRange,
		Registry:           o.Registry,
	}
	if o.BridgeRange != "" {
		pfx, err := netip.ParsePrefix(o.BridgeRange)
		if err != nil || !pfx.Addr().Is4() || pfx.Bits() > 24 {
			return env, fmt.Errorf("--bridge-network-range %q: an IPv4 CIDR of at least /24 is needed", o.BridgeRange)
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
	if err := startVCHD(root, o.VCHD, o.Debug); err != nil {
		return env, err
	}
	env = EnvFor(cfg)
	if err := waitReady(ctx, root, cfg, o.Timeout); err != nil {
		return env, err
	}
	return env, nil
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
		return fmt.Errorf("API port %d is not free: %w", port, err)
	}
	return l.Close()
}

// Start starts vchd for an existing VCH (after a host reboot, say).
func Start(ctx context.Context, stateDir, name, vchd string) error {
	root := filepath.Join(StateDir(stateDir), name)
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		return err
	}
	if pid := readPid(filepath.Join(root, "vchd.pid")); pid > 0 && alive(pid) {
		return nil
	}
	if err := startVCHD(root, vchd, cfg.Debug); err != nil {
		return err
	}
	return waitReady(ctx, root, cfg, 60*time.Second)
}

func startVCHD(root, vchd string, debug bool) error {
	logf, err := os.OpenFile(filepath.Join(root, "vchd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"--config", vchconfig.Path(root)}
	if debug {
		args = append(args, "--debug")
	}
	cmd := exec.Command(vchd, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start vchd: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, "vchd.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		return err
	}
	// vchd is detached; release it so it is not our child to reap.
	return cmd.Process.Release()
}

func waitReady(ctx context.Context, root string, cfg *vchconfig.Config, timeout time.Duration) error {
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
	pid := readPid(filepath.Join(root, "vchd.pid"))
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if pid > 0 && !alive(pid) {
			return fmt.Errorf("vchd exited during start-up:\n%s", tail(filepath.Join(root, "vchd.log"), 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vchd did not answer %s within %s (last error: %v):\n%s", url, timeout, err, tail(filepath.Join(root, "vchd.log"), 20))
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
	Force    bool
}

// Delete stops a VCH and removes everything it made.
func Delete(o DeleteOptions) error {
	root := filepath.Join(StateDir(o.StateDir), o.Name)
	if _, err := os.Stat(vchconfig.Path(root)); err != nil {
		return fmt.Errorf("VCH %q not found in %s", o.Name, StateDir(o.StateDir))
	}
	if vms := runningVMs(root); len(vms) > 0 && !o.Force {
		return fmt.Errorf("VCH %q has %d running container VM(s): stop them or use --force", o.Name, len(vms))
	}
	stopVCHD(root, 10*time.Second)
	killVMs(root)
	if err := netlocal.Destroy(filepath.Join(root, "network")); err != nil {
		return fmt.Errorf("remove the VCH's networks: %w", err)
	}
	if err := os.RemoveAll(root); err != nil {
		return fmt.Errorf("remove %s: %w", root, err)
	}
	return nil
}

func stopVCHD(root string, grace time.Duration) {
	pid := readPid(filepath.Join(root, "vchd.pid"))
	if pid <= 0 || !isProcess(pid, "vchd") {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 100 && alive(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// runningVMs finds the QEMU processes of a VCH by their pidfiles.
func runningVMs(root string) []int {
	var pids []int
	_ = filepath.WalkDir(filepath.Join(root, "containers"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "qemu.pid" {
			return nil
		}
		if pid := readPid(p); pid > 0 && isProcess(pid, "qemu") {
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

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
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
	Env     Env
	Config  *vchconfig.Config
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
	pid := readPid(filepath.Join(root, "vchd.pid"))
	id := "-"
	if b, err := os.ReadFile(filepath.Join(root, "docker", "engine-id")); err == nil {
		id = strings.TrimSpace(string(b))
	}
	return &VCH{
		ID: id, Path: root, Name: cfg.Name, Version: versionOf(root),
		Running: pid > 0 && isProcess(pid, "vchd"), Env: EnvFor(cfg), Config: cfg,
	}, nil
}

func versionOf(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "version"))
	if err != nil {
		return "-"
	}
	return strings.TrimSpace(string(b))
}

// validateRegistry checks the registry settings and reads the CA files,
// before anything is made.
func validateRegistry(r vchconfig.Registry, caFiles []string) ([]byte, error) {
	for _, p := range r.Insecure {
		if err := vchconfig.ValidateRegistryPattern(p); err != nil {
			return nil, fmt.Errorf("--insecure-registry: %w", err)
		}
	}
	for _, p := range r.Whitelist {
		if err := vchconfig.ValidateRegistryPattern(p); err != nil {
			return nil, fmt.Errorf("--whitelist-registry: %w", err)
		}
	}
	for _, m := range r.Mirrors {
		if err := vchconfig.ValidateMirror(m); err != nil {
			return nil, fmt.Errorf("--registry-mirror: %w", err)
		}
	}
	var all []byte
	for _, f := range caFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--registry-ca: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--registry-ca: %s holds no PEM certificate", f)
		}
		all = append(append(all, b...), '\n')
	}
	return all, nil
}
