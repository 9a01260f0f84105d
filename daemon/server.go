package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/vchproject/vch/daemon/httpstatus"
	"github.com/vchproject/vch/daemon/httputils"
	"github.com/vchproject/vch/daemon/middleware"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	execrouter "github.com/vchproject/vch/daemon/router/exec"
	imagerouter "github.com/vchproject/vch/daemon/router/image"
	networkrouter "github.com/vchproject/vch/daemon/router/network"
	systemrouter "github.com/vchproject/vch/daemon/router/system"
	volumerouter "github.com/vchproject/vch/daemon/router/volume"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/version"
)

// API versions served.
const (
	MinAPIVersion = "1.24"
	MaxAPIVersion = "1.45"
)

// DefaultMaxBodyBytes caps JSON request bodies.
const DefaultMaxBodyBytes = 10 << 20

// Config configures a Server.
type Config struct {
	Addr         string
	TLS          *tls.Config // nil: plain HTTP
	Logger       *zap.Logger
	Containers   containerrouter.Backend
	Images       imagerouter.Backend
	System       systemrouter.Backend
	Execs        execrouter.Backend    // nil: exec answers 501
	Volumes      volumerouter.Backend  // nil: /volumes answers 501
	Networks     networkrouter.Backend // nil: /networks answers 501
	MaxBodyBytes int64
}

// Server is the Docker Engine API server.
type Server struct {
	cfg     Config
	log     *zap.Logger
	version *middleware.Version
	handler http.Handler
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Containers == nil || cfg.Images == nil || cfg.System == nil {
		return nil, errors.New("daemon: Containers, Images and System backends are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	v, err := middleware.NewVersion(MinAPIVersion, MaxAPIVersion, version.Version)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, version: v}
	routers := []httputils.Router{
		systemrouter.NewRouter(cfg.System),
		containerrouter.NewRouter(cfg.Containers),
		imagerouter.NewRouter(cfg.Images),
	}
	if cfg.Execs != nil {
		routers = append(routers, execrouter.NewRouter(cfg.Execs))
	}
	if cfg.Volumes != nil {
		routers = append(routers, volumerouter.NewRouter(cfg.Volumes))
	}
	if cfg.Networks != nil {
		routers = append(routers, networkrouter.NewRouter(cfg.Networks))
	}
	s.handler = s.buildMux(routers)
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve listens on Config.Addr until ctx is cancelled.
func (s *Server) Serve(ctx context.Context) error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Addr, err)
	}
	return s.ServeListener(ctx, l)
}

// ServeListener serves on l until ctx is cancelled.
func (s *Server) ServeListener(ctx context.Context, l net.Listener) error {
	if s.cfg.TLS != nil {
		l = tls.NewListener(l, s.cfg.TLS)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		case <-done:
		}
	}()
	defer close(done)
	s.log.Info("serving the Docker API", zap.String("addr", l.Addr().String()), zap.Bool("tls", s.cfg.TLS != nil))
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServerTLSConfig is the API's TLS: at least TLS 1.2, and a client
// certificate signed by the VCH's CA is required.
func ServerTLSConfig(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("CA certificate: no PEM certificate found")
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

func (s *Server) buildMux(routers []httputils.Router) http.Handler {
	m := mux.NewRouter()
	for _, rt := range routers {
		for _, r := range rt.Routes() {
			h := s.makeHandler(r.Handler, r.Stream)
			m.Path("/v{version:[0-9.]+}" + r.Path).Methods(r.Method).Handler(h)
			m.Path(r.Path).Methods(r.Method).Handler(h)
		}
	}
	for _, u := range unsupported {
		if (u.what == "exec" && s.cfg.Execs != nil) || (u.prefix == "/volumes" && s.cfg.Volumes != nil) {
			continue
		}
		h := s.makeHandler(notImplemented(u.what), false)
		m.PathPrefix("/v{version:[0-9.]+}" + u.prefix).Handler(h)
		m.PathPrefix(u.prefix).Handler(h)
	}
	notFound := s.makeHandler(func(context.Context, http.ResponseWriter, *http.Request, map[string]string) error {
		return errdefs.NotFound("page not found")
	}, false)
	m.NotFoundHandler = notFound
	m.MethodNotAllowedHandler = notFound
	return m
}

func notImplemented(what string) httputils.APIFunc {
	return func(context.Context, http.ResponseWriter, *http.Request, map[string]string) error {
		return errdefs.NotImplemented(what + " is not supported by this VCH yet")
	}
}

// makeHandler applies version negotiation, body limits, logging and the
// one error→status mapping around a route handler.
func (s *Server) makeHandler(h httputils.APIFunc, stream bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		vars := mux.Vars(r)
		s.version.SetHeaders(w)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if r.Body != nil && !stream {
			r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
		}
		v, err := s.version.Negotiate(vars["version"])
		if err == nil {
			if perr := r.ParseForm(); perr != nil {
				err = errdefs.InvalidParameter(perr.Error())
			} else {
				err = h(httputils.WithVersion(r.Context(), v), rec, r, vars)
			}
		}
		if err != nil {
			s.writeError(rec, r, err)
		}
		fields := []zap.Field{zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Int("status", rec.status), zap.Duration("took", time.Since(start))}
		if err != nil && rec.status >= 500 {
			s.log.Warn("request failed", append(fields, zap.Error(err))...)
		} else {
			s.log.Debug("request", fields...)
		}
	})
}

func (s *Server) writeError(w *statusRecorder, r *http.Request, err error) {
	if w.hijacked {
		return
	}
	if w.wrote {
		// A stream already began: docker clients read a final JSON error line.
		if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			_ = writeStreamError(w, err)
		}
		return
	}
	code := httpstatus.FromError(err)
	if code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	_ = httputils.WriteJSON(w, code, map[string]string{"message": err.Error()})
}

// statusRecorder remembers the status and whether the response began.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	wrote    bool
	hijacked bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status = code
		s.wrote = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		s.wrote = true
		f.Flush()
	}
}

func (s *statusRecorder) Hijack() (net.Conn, *bufioReadWriter, error) {
	hj, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	s.hijacked, s.wrote, s.status = true, true, http.StatusSwitchingProtocols
	return hj.Hijack()
}
