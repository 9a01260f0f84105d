package system

import (
	"context"
	"net/http"

	"github.com/docker/docker/api/types/registry"

	"github.com/vchproject/vch/daemon/httputils"
)

type router struct{ b Backend }

// NewRouter returns the system routes for b.
func NewRouter(b Backend) httputils.Router { return &router{b: b} }

func (r *router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/_ping", Handler: ping},
		{Method: http.MethodHead, Path: "/_ping", Handler: ping},
		{Method: http.MethodGet, Path: "/version", Handler: r.version},
		{Method: http.MethodGet, Path: "/info", Handler: r.info},
		{Method: http.MethodPost, Path: "/auth", Handler: r.auth},
		{Method: http.MethodGet, Path: "/events", Handler: r.events},
		{Method: http.MethodGet, Path: "/system/df", Handler: r.df},
	}
}

func (r *router) df(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	du, err := r.b.SystemDiskUsage(ctx)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, du)
}

func ping(_ context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	h := w.Header()
	h.Set("Builder-Version", "1")
	h.Set("Docker-Experimental", "false")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	if req.Method == http.MethodHead {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("OK"))
	return err
}

func (r *router) version(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	v, err := r.b.SystemVersion(ctx)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, v)
}

func (r *router) info(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	i, err := r.b.SystemInfo(ctx)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, i)
}

// auth answers docker login: the credentials are checked against the
// registry, never stored by the VCH (the CLI keeps them).
func (r *router) auth(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cfg registry.AuthConfig
	if err := httputils.ReadJSON(req, &cfg); err != nil {
		return err
	}
	token, err := r.b.AuthenticateToRegistry(ctx, &cfg)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, registry.AuthenticateOKBody{Status: "Login Succeeded", IdentityToken: token})
}
