package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"go.uber.org/zap"

	"github.com/vchproject/vch/backends"
	"github.com/vchproject/vch/backends/system"
	"github.com/vchproject/vch/daemon"
	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/internal/version"
	"github.com/vchproject/vch/machine/limits"
	"github.com/vchproject/vch/machine/lockfile"
	"github.com/vchproject/vch/machine/vchconfig"
	"github.com/vchproject/vch/portlayer/storage/local"
)

// run wires the layers of one VCH: image store and compute provider (the
// port layer), the docker personality (backends) and the API server.
// runOptions change how run treats the process it runs in.
type runOptions struct {
	// inProcess: run serves a VCH inside a process that is not a vchd
	// of its own (a test). The VCH's cgroup is then not joined: joining
	// moves the whole process, and its group would outlive it.
	inProcess bool
}

func run(ctx context.Context, configPath string, log *zap.Logger, o runOptions) error {
	cfg, err := vchconfig.Load(configPath)
	if err != nil {
		return err
	}
	log = log.With(zap.String("vch", cfg.Name))
	// One vchd per VCH: two would each re-attach the VMs and write the
	// same state.
	lock, err := lockfile.Acquire(filepath.Join(cfg.Root, vchconfig.LockFile))
	if err != nil {
		var held *lockfile.HeldError
		if errors.As(err, &held) {
			return &alreadyRunningError{name: cfg.Name, root: cfg.Root, pid: held.Pid}
		}
		return err
	}
	defer lock.Release()
	if err := atomicfile.WriteFile(filepath.Join(cfg.Root, vchconfig.PidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	log.Info("starting vchd", zap.String("version", version.Version), zap.String("api", cfg.APIAddr))
	host, err := limits.ReadHost()
	if err != nil {
		return err
	}
	if !o.inProcess {
		if err := joinCgroup(cfg, host, log); err != nil {
			return err
		}
	}
	if cfg.Firewall != "" { // after a reboot the rule is gone
		if err := applyFirewall(cfg); err != nil {
			return err
		}
	}

	// The port layer: the providers the config names (qemu and local
	// unless it says otherwise).
	pl, err := newRegistry(cfg).Open(ctx, providerNames(cfg), log)
	if err != nil {
		return err
	}
	defer func() {
		if err := pl.Close(); err != nil {
			log.Warn("closing the port layer", zap.Error(err))
		}
	}()
	b, err := backends.New(backends.Config{
		Name:            cfg.Name,
		Root:            filepath.Join(cfg.Root, "docker"),
		Compute:         pl.Compute,
		Network:         pl.Network,
		Images:          pl.Images,
		Volumes:         pl.Volumes,
		Registry:        system.RegistryInfo{Insecure: cfg.Registry.Insecure, Whitelist: cfg.Registry.Whitelist, Mirrors: cfg.Registry.Mirrors},
		Logger:          log.Named("backends"),
		Runtime:         providerNames(cfg).WithDefaults().Compute,
		Version:         version.Version,
		GitCommit:       version.GitCommit,
		BuildTime:       version.BuildTime,
		DefaultMemoryMB: cfg.MemoryMB,
		DefaultCPUs:     cfg.CPUs,
		Limits:          systemLimits(cfg.Limits, host),
		SyslogAddress:   cfg.SyslogAddress,

		ContainerNameConvention: cfg.ContainerNameConvention,
		BindAllow:               cfg.BindAllow,
	})
	if err != nil {
		return fmt.Errorf("docker backends: %w", err)
	}
	defer b.Close()

	tlsConfig, err := serverTLS(cfg, log)
	if err != nil {
		return err
	}
	srv, err := daemon.New(daemon.Config{
		Addr:       cfg.APIAddr,
		TLS:        tlsConfig,
		Logger:     log.Named("api"),
		Containers: b.Containers(),
		Images:     b.Images(),
		System:     b.System(),
		Execs:      b.Execs(),
		Volumes:    b.Volumes(),
		Networks:   b.Networks(),
	})
	if err != nil {
		return fmt.Errorf("api server: %w", err)
	}
	return srv.Serve(ctx)
}

// alreadyRunningError: another vchd serves this VCH.
type alreadyRunningError struct {
	name, root string
	pid        int
}

func (e *alreadyRunningError) Error() string {
	return fmt.Sprintf("VCH %s (%s) is already served by vchd pid %d: only one vchd may run per VCH; stop it first with vic-machine stop --name %s", e.name, e.root, e.pid, e.name)
}

func serverTLS(cfg *vchconfig.Config, log *zap.Logger) (*tls.Config, error) {
	if cfg.NoTLS {
		log.Warn("TLS IS OFF: the Docker API is served in plain HTTP to anyone who can reach " + cfg.APIAddr)
		return nil, nil
	}
	ca, err := os.ReadFile(cfg.CACert)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := os.ReadFile(cfg.ServerCert)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	key, err := os.ReadFile(cfg.ServerKey)
	if err != nil {
		return nil, fmt.Errorf("server key: %w", err)
	}
	t, err := daemon.ServerTLSConfig(ca, cert, key)
	if err != nil {
		return nil, err
	}
	if cfg.ClientCAFile != "" {
		b, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client CAs: %w", err)
		}
		if !t.ClientCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("client CAs: %s holds no PEM certificate", cfg.ClientCAFile)
		}
	}
	if cfg.NoTLSVerify {
		log.Warn("client certificates are NOT verified (--no-tlsverify): any client may use this VCH")
		t.ClientAuth = tls.NoClientCert
	}
	return t, nil
}

// registryPolicy turns the VCH's registry settings into the store's: the
// system's CAs plus those given at create.
func registryPolicy(r vchconfig.Registry) (local.RegistryPolicy, error) {
	p := local.RegistryPolicy{Insecure: r.Insecure, Whitelist: r.Whitelist, Mirrors: r.Mirrors}
	if r.CAFile == "" {
		return p, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	b, err := os.ReadFile(r.CAFile)
	if err != nil {
		return p, fmt.Errorf("registry CAs: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return p, fmt.Errorf("registry CAs: %s holds no PEM certificate", r.CAFile)
	}
	p.RootCAs = pool
	return p, nil
}
