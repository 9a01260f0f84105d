package vsphere

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"
)

// Target is a parsed --target: [https://][user[:password]@]host[:port][/datacenter].
type Target struct {
	Host       string // host or host:port
	User       string
	Password   string
	Datacenter string // "" when not given
}

// ParseTarget reads --target. The user may itself hold '@'
// (administrator@vsphere.local@vc/DC): the last '@' before the host counts.
func ParseTarget(s string) (Target, error) {
	var t Target
	rest := s
	if i := strings.Index(rest, "://"); i >= 0 {
		scheme := rest[:i]
		if scheme != "https" {
			return t, fmt.Errorf("--target %q: only https:// is supported", s)
		}
		rest = rest[i+3:]
	}
	hostPart, dc, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(hostPart, "@"); i >= 0 {
		user := hostPart[:i]
		hostPart = hostPart[i+1:]
		if u, p, ok := strings.Cut(user, ":"); ok {
			t.User, t.Password = u, p
		} else {
			t.User = user
		}
		if uu, err := url.PathUnescape(t.User); err == nil {
			t.User = uu
		}
		if pp, err := url.PathUnescape(t.Password); err == nil {
			t.Password = pp
		}
	}
	t.Host = hostPart
	t.Datacenter = strings.Trim(dc, "/")
	if strings.HasPrefix(t.Datacenter, "sdk") {
		t.Datacenter = strings.Trim(strings.TrimPrefix(t.Datacenter, "sdk"), "/")
	}
	if t.Host == "" {
		return t, fmt.Errorf("--target %q names no host: use --target host/Datacenter or https://user@host/Datacenter", s)
	}
	return t, nil
}

// PasswordEnv are the environment variables Connect's callers read a
// password from, in order, when --password is not given.
var PasswordEnv = []string{"VIC_MACHINE_PASSWORD", "GOVC_PASSWORD"}

// ConnectOptions for Connect.
type ConnectOptions struct {
	Target     Target
	Thumbprint string // --thumbprint, AA:BB:… (SHA-1 or SHA-256)
	Timeout    time.Duration
	Log        *zap.Logger
}

// Session is a logged-in connection to vCenter or ESXi with the target's
// datacenter chosen.
type Session struct {
	Client     *vim25.Client
	Target     Target
	Thumbprint string // SHA-1 of the server certificate
	Finder     *find.Finder
	Datacenter *object.Datacenter
	IsVC       bool
	log        *zap.Logger
	logout     func()
}

// ThumbprintError is a server certificate vic-machine cannot trust: not
// signed by a known CA and no --thumbprint, or not the --thumbprint given.
type ThumbprintError struct {
	Host       string
	Thumbprint string // the server's, SHA-1
	Given      string
	Cause      error
}

func (e *ThumbprintError) Error() string {
	host, _, err := net.SplitHostPort(e.Host)
	if err != nil {
		host = e.Host
	}
	msg := fmt.Sprintf("Failed to verify certificate for target=%s (thumbprint=%s)", host, e.Thumbprint)
	if e.Given != "" {
		return msg + fmt.Sprintf(": it does not match --thumbprint %s; if you trust this server, run again with --thumbprint %s", e.Given, e.Thumbprint)
	}
	return msg + fmt.Sprintf(": %v; if you trust this server, run again with --thumbprint %s", e.Cause, e.Thumbprint)
}

// ErrLogin is a refused user name or password.
var ErrLogin = errors.New("incorrect user name or password")

// Connect checks the server's certificate, logs in and finds the
// datacenter (the only one when the target names none).
func Connect(ctx context.Context, o ConnectOptions) (*Session, error) {
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	addr := o.Target.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "443")
	}
	tp, leaf, err := checkCertificate(ctx, addr, o.Thumbprint, o.Timeout)
	if err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: "https", Host: o.Target.Host, Path: "/sdk"}
	sc := soap.NewClient(u, false)
	sc.SetThumbprint(addr, tp)
	// Trust the checked certificate itself too, so each connection
	// verifies at the first handshake (the thumbprint stays the fallback
	// when the name does not match).
	if roots, err := x509.SystemCertPool(); err == nil {
		roots.AddCert(leaf)
		sc.DefaultTransport().TLSClientConfig.RootCAs = roots
	}
	sc.Timeout = o.Timeout
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.Target.Host, err)
	}
	if o.Target.User == "" {
		return nil, fmt.Errorf("no user for %s: give --user or --target https://user@%s", o.Target.Host, o.Target.Host)
	}
	sm := session.NewManager(vc)
	if err := sm.Login(ctx, url.UserPassword(o.Target.User, o.Target.Password)); err != nil {
		if isLoginFault(err) {
			return nil, fmt.Errorf("login to %s as %s: %w", o.Target.Host, o.Target.User, ErrLogin)
		}
		return nil, fmt.Errorf("login to %s as %s: %w", o.Target.Host, o.Target.User, err)
	}
	s := &Session{Client: vc, Target: o.Target, Thumbprint: tp, IsVC: vc.IsVC(), log: log,
		logout: func() {
			lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = sm.Logout(lctx)
		}}
	s.Finder = find.NewFinder(vc, false)
	if err := s.chooseDatacenter(ctx); err != nil {
		s.Close()
		return nil, err
	}
	log.Info("connected", zap.String("target", o.Target.Host), zap.String("datacenter", s.Datacenter.InventoryPath), zap.Bool("vcenter", s.IsVC))
	return s, nil
}

// Close logs out.
func (s *Session) Close() {
	if s.logout != nil {
		s.logout()
		s.logout = nil
	}
}

func (s *Session) chooseDatacenter(ctx context.Context) error {
	dcs, err := s.Finder.DatacenterList(ctx, "*")
	if err != nil {
		return fmt.Errorf("list datacenters: %w", err)
	}
	names := make([]string, 0, len(dcs))
	for _, dc := range dcs {
		names = append(names, dc.Name())
	}
	want := s.Target.Datacenter
	if want == "" {
		if len(dcs) == 1 {
			s.Datacenter = dcs[0]
			s.Finder.SetDatacenter(dcs[0])
			return nil
		}
		return fmt.Errorf("the target has %d datacenters (%s): name one, --target %s/DATACENTER", len(dcs), strings.Join(names, ", "), s.Target.Host)
	}
	dc, err := s.Finder.Datacenter(ctx, want)
	if err != nil {
		var nf *find.NotFoundError
		if errors.As(err, &nf) {
			return fmt.Errorf("unknown datacenter %q: the target has %s", want, strings.Join(names, ", "))
		}
		return fmt.Errorf("find datacenter %q: %w", want, err)
	}
	s.Datacenter = dc
	s.Finder.SetDatacenter(dc)
	return nil
}

// checkCertificate returns the server certificate's SHA-1 thumbprint
// once it is trusted: by the system's CAs or by the thumbprint given.
func checkCertificate(ctx context.Context, addr, given string, timeout time.Duration) (string, *x509.Certificate, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: &tls.Config{InsecureSkipVerify: true}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	_ = conn.Close()
	if len(certs) == 0 {
		return "", nil, fmt.Errorf("connect to %s: the server sent no certificate", addr)
	}
	leaf := certs[0]
	sha1 := soap.ThumbprintSHA1(leaf)
	if given != "" {
		g := strings.ToUpper(strings.TrimSpace(given))
		if g == sha1 || g == soap.ThumbprintSHA256(leaf) {
			return sha1, leaf, nil
		}
		return "", nil, &ThumbprintError{Host: addr, Thumbprint: sha1, Given: given}
	}
	host, _, _ := net.SplitHostPort(addr)
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Intermediates: inter}); err != nil {
		return "", nil, &ThumbprintError{Host: addr, Thumbprint: sha1, Cause: err}
	}
	return sha1, leaf, nil
}

func isLoginFault(err error) bool {
	return fault.Is(err, &types.InvalidLogin{})
}

func (s *Session) propertyCollector() *property.Collector { return property.DefaultCollector(s.Client) }
