package volume

import (
	"context"
	"net/http"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/vchproject/vch/daemon/httputils"
	"github.com/vchproject/vch/errdefs"
)

type router struct{ b Backend }

// NewRouter returns the volume routes for b.
func NewRouter(b Backend) httputils.Router { return &router{b: b} }

func (r *router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/volumes", Handler: r.list},
		{Method: http.MethodPost, Path: "/volumes/create", Handler: r.create},
		{Method: http.MethodPost, Path: "/volumes/prune", Handler: r.prune},
		{Method: http.MethodGet, Path: "/volumes/{name:.*}", Handler: r.inspect},
		{Method: http.MethodDelete, Path: "/volumes/{name:.*}", Handler: r.remove},
	}
}

func parseFilters(req *http.Request) (filters.Args, error) {
	f, err := filters.FromJSON(req.Form.Get("filters"))
	if err != nil {
		return f, errdefs.InvalidParameter(err.Error())
	}
	return f, nil
}

func (r *router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := parseFilters(req)
	if err != nil {
		return err
	}
	vols, err := r.b.VolumeList(ctx, f)
	if err != nil {
		return err
	}
	if vols == nil {
		vols = []*volume.Volume{}
	}
	return httputils.WriteJSON(w, http.StatusOK, volume.ListResponse{Volumes: vols, Warnings: []string{}})
}

func (r *router) inspect(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	v, err := r.b.VolumeInspect(ctx, vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, v)
}

func (r *router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var opts volume.CreateOptions
	if err := httputils.ReadJSON(req, &opts); err != nil {
		return err
	}
	if opts.ClusterVolumeSpec != nil {
		return errdefs.NotImplemented("cluster volumes are not supported by this VCH")
	}
	v, err := r.b.VolumeCreate(ctx, opts)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, v)
}

func (r *router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.VolumeRemove(ctx, vars["name"], httputils.BoolValue(req, "force")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := parseFilters(req)
	if err != nil {
		return err
	}
	rep, err := r.b.VolumePrune(ctx, f)
	if err != nil {
		return err
	}
	if rep.VolumesDeleted == nil {
		rep.VolumesDeleted = []string{}
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}
