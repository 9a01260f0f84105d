package network

import (
	"context"
	"net/http"

	"github.com/docker/docker/api/types/filters"
	dnetwork "github.com/docker/docker/api/types/network"

	"github.com/vchproject/vch/daemon/httputils"
	"github.com/vchproject/vch/errdefs"
)

type router struct{ b Backend }

// NewRouter returns the network routes for b.
func NewRouter(b Backend) httputils.Router { return &router{b: b} }

func (r *router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/networks", Handler: r.list},
		{Method: http.MethodGet, Path: "/networks/", Handler: r.list},
		{Method: http.MethodGet, Path: "/networks/{id:.+}", Handler: r.inspect},
		{Method: http.MethodPost, Path: "/networks/create", Handler: r.create},
		{Method: http.MethodPost, Path: "/networks/prune", Handler: r.prune},
		{Method: http.MethodPost, Path: "/networks/{id:.+}/connect", Handler: r.connect},
		{Method: http.MethodPost, Path: "/networks/{id:.+}/disconnect", Handler: r.disconnect},
		{Method: http.MethodDelete, Path: "/networks/{id:.+}", Handler: r.remove},
	}
}

func (r *router) connect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var co dnetwork.ConnectOptions
	if err := httputils.ReadJSON(req, &co); err != nil {
		return err
	}
	if co.Container == "" {
		return errdefs.InvalidParameter("container name or ID is required")
	}
	if err := r.b.NetworkConnect(ctx, vars["id"], co); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *router) disconnect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var do dnetwork.DisconnectOptions
	if err := httputils.ReadJSON(req, &do); err != nil {
		return err
	}
	if do.Container == "" {
		return errdefs.InvalidParameter("container name or ID is required")
	}
	if err := r.b.NetworkDisconnect(ctx, vars["id"], do); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cr dnetwork.CreateRequest
	if err := httputils.ReadJSON(req, &cr); err != nil {
		return err
	}
	resp, err := r.b.NetworkCreate(ctx, cr)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, resp)
}

func (r *router) remove(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	if err := r.b.NetworkRemove(ctx, vars["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := filters.FromJSON(req.Form.Get("filters"))
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	rep, err := r.b.NetworksPrune(ctx, f)
	if err != nil {
		return err
	}
	if rep.NetworksDeleted == nil {
		rep.NetworksDeleted = []string{}
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}

func (r *router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := filters.FromJSON(req.Form.Get("filters"))
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	nets, err := r.b.NetworkList(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, nets)
}

func (r *router) inspect(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	n, err := r.b.NetworkInspect(ctx, vars["id"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, n)
}
