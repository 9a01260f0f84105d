package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/daemon/httputils"
	"github.com/vchproject/vch/errdefs"
)

type router struct{ b Backend }

// NewRouter returns the image routes for b.
func NewRouter(b Backend) httputils.Router { return &router{b: b} }

func (r *router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodPost, Path: "/images/create", Handler: r.create},
		{Method: http.MethodPost, Path: "/images/prune", Handler: r.prune},
		{Method: http.MethodGet, Path: "/images/json", Handler: r.list},
		{Method: http.MethodGet, Path: "/images/{name:.*}/json", Handler: r.inspect},
		{Method: http.MethodPost, Path: "/images/{name:.*}/tag", Handler: r.tag},
		{Method: http.MethodPost, Path: "/images/{name:.*}/push", Handler: r.push},
		{Method: http.MethodDelete, Path: "/images/{name:.*}", Handler: r.remove},
	}
}

// decodeAuth reads X-Registry-Auth: base64url JSON (padding optional).
func decodeAuth(h string) (*AuthConfig, error) {
	if h == "" {
		return nil, nil
	}
	raw, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	}
	if err != nil {
		return nil, errdefs.InvalidParameter("invalid X-Registry-Auth header: " + err.Error())
	}
	a := new(AuthConfig)
	if err := json.Unmarshal(raw, a); err != nil {
		return nil, errdefs.InvalidParameter("invalid X-Registry-Auth header: " + err.Error())
	}
	return a, nil
}

func (r *router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if req.Form.Get("fromSrc") != "" {
		return errdefs.NotImplemented("image import (fromSrc) is not supported by this VCH yet")
	}
	from := req.Form.Get("fromImage")
	if from == "" {
		return errdefs.InvalidParameter("fromImage is required")
	}
	auth, err := decodeAuth(req.Header.Get("X-Registry-Auth"))
	if err != nil {
		return err
	}
	out := httputils.NewFlushWriter(w, func() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	})
	return r.b.PullImage(ctx, PullConfig{
		Image: from, Tag: req.Form.Get("tag"), Platform: req.Form.Get("platform"),
		Auth: auth, Output: out,
	})
}

func (r *router) push(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	auth, err := decodeAuth(req.Header.Get("X-Registry-Auth"))
	if err != nil {
		return err
	}
	out := httputils.NewFlushWriter(w, func() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	})
	return r.b.PushImage(ctx, PushConfig{Name: vars["name"], Tag: req.Form.Get("tag"), Auth: auth, Output: out})
}

func (r *router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := filters.FromJSON(req.Form.Get("filters"))
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	if name := req.Form.Get("filter"); name != "" {
		f.Add("reference", name)
	}
	imgs, err := r.b.Images(ctx, httputils.BoolValue(req, "all"), f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, imgs)
}

func (r *router) inspect(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	img, err := r.b.ImageInspect(ctx, vars["name"])
	if err != nil {
		return err
	}
	// docker sent ContainerConfig (empty for images not built by a
	// container) below API 1.45. docker-compose 1.x negotiates the
	// daemon's newest version and still reads ContainerConfig.Volumes
	// when it recreates a container, so it is sent at every version.
	//lint:ignore SA1019 the field is part of the API compose v1 reads
	if img.ContainerConfig == nil {
		//lint:ignore SA1019 as above
		img.ContainerConfig = &container.Config{}
	}
	return httputils.WriteJSON(w, http.StatusOK, img)
}

func (r *router) tag(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.TagImage(ctx, vars["name"], req.Form.Get("repo"), req.Form.Get("tag")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (r *router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	res, err := r.b.ImageDelete(ctx, vars["name"], httputils.BoolValue(req, "force"), !httputils.BoolValue(req, "noprune"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, res)
}

func (r *router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := filters.FromJSON(req.Form.Get("filters"))
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	rep, err := r.b.ImagesPrune(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}
