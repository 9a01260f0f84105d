package exec

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/daemon/httputils"
	"github.com/vchproject/vch/errdefs"
)

type router struct{ b Backend }

// NewRouter returns the exec routes for b.
func NewRouter(b Backend) httputils.Router { return &router{b: b} }

func (r *router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodPost, Path: "/containers/{name:.*}/exec", Handler: r.create},
		{Method: http.MethodPost, Path: "/exec/{id:.*}/start", Handler: r.start},
		{Method: http.MethodPost, Path: "/exec/{id:.*}/resize", Handler: r.resize},
		{Method: http.MethodGet, Path: "/exec/{id:.*}/json", Handler: r.inspect},
	}
}

func (r *router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	opts := &container.ExecOptions{}
	if err := httputils.ReadJSON(req, opts); err != nil {
		return err
	}
	if len(opts.Cmd) == 0 {
		return errdefs.InvalidParameter("No exec command specified")
	}
	id, err := r.b.ExecCreate(ctx, vars["name"], opts)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

func streamType(tty bool) string {
	if tty {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

func (r *router) start(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var opts container.ExecStartOptions
	// Some clients send no body at all: the defaults then apply.
	if req.ContentLength != 0 {
		if err := httputils.ReadJSON(req, &opts); err != nil {
			return err
		}
	}
	var hj *httputils.Hijacked
	defer func() {
		if hj != nil {
			hj.Conn.Close()
		}
	}()
	cfg := StartConfig{Detach: opts.Detach, Tty: opts.Tty, ConsoleSize: opts.ConsoleSize}
	if !opts.Detach {
		cfg.Streams = func(tty bool) (io.ReadCloser, io.Writer, error) {
			var err error
			hj, err = httputils.Hijack(w, req, streamType(tty))
			if err != nil {
				return nil, nil, err
			}
			return hj.In, hj.Out, nil
		}
	}
	// As for attach: a client's half-close (stdin EOF) must not end the
	// stream, and a detached exec outlives the request.
	if err := r.b.ExecStart(context.WithoutCancel(ctx), vars["id"], cfg); err != nil {
		return err
	}
	if opts.Detach {
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

func (r *router) resize(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	h, err := strconv.ParseUint(req.Form.Get("h"), 10, 32)
	if err != nil {
		return errdefs.InvalidParameter("invalid resize height " + strconv.Quote(req.Form.Get("h")))
	}
	wd, err := strconv.ParseUint(req.Form.Get("w"), 10, 32)
	if err != nil {
		return errdefs.InvalidParameter("invalid resize width " + strconv.Quote(req.Form.Get("w")))
	}
	if err := r.b.ExecResize(ctx, vars["id"], uint(h), uint(wd)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *router) inspect(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	ei, err := r.b.ExecInspect(ctx, vars["id"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, ei)
}
