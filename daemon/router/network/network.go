package network

import (
	"context"
	"net/http"

	"github.com/docker/docker/api/types/filters"

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
	}
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
