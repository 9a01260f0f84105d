package local

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/core/remotes/docker"

	"github.com/vchproject/vch/errdefs"
)

// RegistryPolicy is how the store may reach registries: the VCH's
// --insecure-registry, --registry-ca, --whitelist-registry and
// --registry-mirror settings.
type RegistryPolicy struct {
	// Insecure registries ("host[:port]" or a CIDR) are spoken to over
	// HTTPS without certificate verification, or plain HTTP, as dockerd's
	// --insecure-registry.
	Insecure []string
	// RootCAs, if set, verifies registries' certificates instead of the
	// system's pool (callers add the system pool if they want it).
	RootCAs *x509.CertPool
	// Whitelist, if not empty, is the only registries that may be used:
	// "host[:port]", a CIDR, or "*.domain".
	Whitelist []string
	// Mirrors are tried, in order, before Docker Hub for docker.io names
	// ("https://host[:port]" or "http://host[:port]").
	Mirrors []string
}

// WithRegistryPolicy sets the store's registry policy.
func WithRegistryPolicy(p RegistryPolicy) Option { return func(o *options) { o.policy = p } }

// matchRegistry reports whether host ("name[:port]") matches pattern:
// the same host and port, the same name when the pattern has no port, a
// CIDR holding the host's address, or "*.domain" for a name under domain.
func matchRegistry(pattern, host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	switch {
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(name, pattern[1:])
	case strings.Contains(pattern, "/"):
		_, cidr, err := net.ParseCIDR(pattern)
		ip := net.ParseIP(name)
		return err == nil && ip != nil && cidr.Contains(ip)
	case strings.Contains(pattern, ":") && net.ParseIP(pattern) == nil:
		return pattern == host
	}
	return pattern == name || pattern == host
}

func matchAny(patterns []string, host string) bool {
	for _, p := range patterns {
		if matchRegistry(p, host) {
			return true
		}
	}
	return false
}

// allowed refuses a registry outside the whitelist, with VIC's text.
func (p *RegistryPolicy) allowed(host string) error {
	if len(p.Whitelist) == 0 || matchAny(p.Whitelist, host) {
		return nil
	}
	return errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("Access denied to unauthorized registry (%s) while VCH is in whitelist mode", host))
}

// hosts configures how registries are reached: the whitelist, plain HTTP
// where the store allows it, insecure registries, the CA pool, mirrors for
// Docker Hub, all authorized with aopts.
func (s *Store) hosts(aopts ...docker.AuthorizerOpt) docker.RegistryHosts {
	authz := docker.NewDockerAuthorizer(aopts...)
	p := &s.opts.policy
	return func(host string) ([]docker.RegistryHost, error) {
		if err := p.allowed(host); err != nil {
			return nil, err
		}
		hs, err := s.hostConfig(host, authz)
		if err != nil || host != "docker.io" {
			return hs, err
		}
		var mirrors []docker.RegistryHost
		for _, m := range p.Mirrors {
			scheme, mh, ok := strings.Cut(strings.TrimSuffix(m, "/"), "://")
			if !ok {
				scheme, mh = "https", m
			}
			mhs, err := s.hostConfig(mh, authz)
			if err != nil {
				return nil, err
			}
			mhs[0].Scheme = scheme
			mhs[0].Capabilities = docker.HostCapabilityPull | docker.HostCapabilityResolve
			mirrors = append(mirrors, mhs[0])
		}
		return append(mirrors, hs...), nil
	}
}

// hostConfig is one registry host's endpoint.
func (s *Store) hostConfig(host string, authz docker.Authorizer) ([]docker.RegistryHost, error) {
	p := &s.opts.policy
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: p.RootCAs}
	ropts := []docker.RegistryOpt{docker.WithAuthorizer(authz)}
	var rt http.RoundTripper
	switch {
	case s.opts.plainHTTP(host):
		ropts = append(ropts, docker.WithPlainHTTP(docker.MatchAllHosts))
		rt = s.transport(tlsCfg)
	case matchAny(p.Insecure, host):
		// dockerd's insecure registry: TLS without verification, or HTTP.
		tlsCfg.InsecureSkipVerify = true
		rt = docker.NewHTTPFallback(s.transport(tlsCfg))
	default:
		rt = s.transport(tlsCfg)
	}
	ropts = append(ropts, docker.WithClient(&http.Client{Transport: rt}))
	return docker.ConfigureDefaultRegistries(ropts...)(host)
}

// transport is containerd's default transport, with the stall timeout on
// waiting for response headers and on every read of a body.
func (s *Store) transport(tlsCfg *tls.Config) http.RoundTripper {
	t := docker.DefaultHTTPTransport(tlsCfg)
	t.ResponseHeaderTimeout = s.opts.stall
	return &stallTransport{rt: t, stall: s.opts.stall}
}

// stallTransport ends a response body that sends nothing for stall.
type stallTransport struct {
	rt    http.RoundTripper
	stall time.Duration
}

func (t *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = newStallBody(resp.Body, t.stall)
	if strings.Contains(req.URL.Path, "/manifests/") {
		// containerd reads a manifest whose size the registry does not
		// announce to its end: bound it, or an endless body never ends.
		resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxManifestSize + 1}
	}
	return resp, nil
}

// limitedBody fails once more than its limit has been read.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("manifest larger than %d bytes", maxManifestSize)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.ReadCloser.Read(p)
	l.left -= int64(n)
	return n, err
}

// stallBody closes its body when no Read returns within stall; the
// blocked Read then fails with a timeout error.
type stallBody struct {
	body    io.ReadCloser
	timer   *time.Timer
	stall   time.Duration
	stalled atomic.Bool
}

func newStallBody(b io.ReadCloser, stall time.Duration) *stallBody {
	s := &stallBody{body: b, stall: stall}
	s.timer = time.AfterFunc(stall, func() {
		s.stalled.Store(true)
		b.Close()
	})
	return s
}

func (s *stallBody) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if s.stalled.Load() {
		return n, fmt.Errorf("registry sent nothing for %v: timeout", s.stall)
	}
	s.timer.Reset(s.stall)
	return n, err
}

func (s *stallBody) Close() error {
	s.timer.Stop()
	return s.body.Close()
}
