package container

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/vchproject/vch/daemon/httputils"
	"github.com/vchproject/vch/errdefs"
)

type router struct{ b Backend }

// NewRouter returns the container routes for b.
func NewRouter(b Backend) httputils.Router { return &router{b: b} }

func (r *router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodPost, Path: "/containers/create", Handler: r.create},
		{Method: http.MethodPost, Path: "/containers/prune", Handler: r.prune},
		{Method: http.MethodGet, Path: "/containers/json", Handler: r.list},
		{Method: http.MethodGet, Path: "/containers/{name:.*}/json", Handler: r.inspect},
		{Method: http.MethodGet, Path: "/containers/{name:.*}/logs", Handler: r.logs},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/start", Handler: r.start},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/stop", Handler: r.stop},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/restart", Handler: r.restart},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/kill", Handler: r.kill},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/wait", Handler: r.wait},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/rename", Handler: r.rename},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/update", Handler: r.update},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/resize", Handler: r.resize},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/attach", Handler: r.attach},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/pause", Handler: r.pause},
		{Method: http.MethodPost, Path: "/containers/{name:.*}/unpause", Handler: r.unpause},
		{Method: http.MethodGet, Path: "/containers/{name:.*}/top", Handler: r.top},
		{Method: http.MethodGet, Path: "/containers/{name:.*}/stats", Handler: r.stats},
		{Method: http.MethodHead, Path: "/containers/{name:.*}/archive", Handler: r.headArchive},
		{Method: http.MethodGet, Path: "/containers/{name:.*}/archive", Handler: r.getArchive},
		{Method: http.MethodPut, Path: "/containers/{name:.*}/archive", Handler: r.putArchive, Stream: true},
		{Method: http.MethodGet, Path: "/containers/{name:.*}/changes", Handler: r.changes},
		{Method: http.MethodGet, Path: "/containers/{name:.*}/export", Handler: r.export},
		{Method: http.MethodPost, Path: "/commit", Handler: r.commit},
		{Method: http.MethodDelete, Path: "/containers/{name:.*}", Handler: r.remove},
	}
}

// createBody is the JSON of POST /containers/create.
type createBody struct {
	*container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

func (r *router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	body := createBody{Config: &container.Config{}}
	if err := httputils.ReadJSON(req, &body); err != nil {
		return err
	}
	if body.HostConfig == nil {
		body.HostConfig = &container.HostConfig{}
	}
	if body.NetworkingConfig == nil {
		body.NetworkingConfig = &network.NetworkingConfig{}
	}
	resp, err := r.b.ContainerCreate(ctx, CreateConfig{
		Name:             req.Form.Get("name"),
		Platform:         req.Form.Get("platform"),
		Config:           body.Config,
		HostConfig:       body.HostConfig,
		NetworkingConfig: body.NetworkingConfig,
	})
	if err != nil {
		return err
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	return httputils.WriteJSON(w, http.StatusCreated, resp)
}

func (r *router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := filters.FromJSON(req.Form.Get("filters"))
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	limit, err := httputils.IntValue(req, "limit", 0)
	if err != nil {
		return err
	}
	list, err := r.b.Containers(ctx, ListConfig{All: httputils.BoolValue(req, "all"), Limit: limit, Size: httputils.BoolValue(req, "size"), Filters: f})
	if err != nil {
		return err
	}
	if list == nil {
		list = []container.Summary{}
	}
	return httputils.WriteJSON(w, http.StatusOK, list)
}

func (r *router) inspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	c, err := r.b.ContainerInspect(ctx, vars["name"], httputils.BoolValue(req, "size"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, c)
}

func (r *router) start(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.ContainerStart(ctx, vars["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func stopTimeout(req *http.Request) (*int, error) {
	s := req.Form.Get("t")
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid value for t: %q", s))
	}
	return &n, nil
}

func (r *router) stop(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	t, err := stopTimeout(req)
	if err != nil {
		return err
	}
	if err := r.b.ContainerStop(ctx, vars["name"], t, req.Form.Get("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *router) restart(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	t, err := stopTimeout(req)
	if err != nil {
		return err
	}
	if err := r.b.ContainerStop(ctx, vars["name"], t, req.Form.Get("signal")); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	if err := r.b.ContainerStart(ctx, vars["name"]); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *router) kill(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.ContainerKill(ctx, vars["name"], req.Form.Get("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *router) wait(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	cond := container.WaitConditionNotRunning
	switch c := container.WaitCondition(req.Form.Get("condition")); c {
	case "", container.WaitConditionNotRunning:
	case container.WaitConditionNextExit, container.WaitConditionRemoved:
		cond = c
	default:
		return errdefs.InvalidParameter(fmt.Sprintf("invalid condition: %q", c))
	}
	ch, err := r.b.ContainerWait(ctx, vars["name"], cond)
	if err != nil {
		return err
	}
	// The docker CLI waits for these headers before it starts the container.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	var res WaitResult
	select {
	case res = <-ch:
	case <-ctx.Done():
		return nil
	}
	out := container.WaitResponse{StatusCode: res.StatusCode}
	if res.Err != nil {
		out.Error = &container.WaitExitError{Message: res.Err.Error()}
	}
	return jsonEncode(w, out)
}

func (r *router) rename(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.ContainerRename(ctx, vars["name"], req.Form.Get("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *router) resize(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	h, err := strconv.ParseUint(req.Form.Get("h"), 10, 16)
	if err != nil {
		return errdefs.InvalidParameter("invalid value for h: " + req.Form.Get("h"))
	}
	wd, err := strconv.ParseUint(req.Form.Get("w"), 10, 16)
	if err != nil {
		return errdefs.InvalidParameter("invalid value for w: " + req.Form.Get("w"))
	}
	if err := r.b.ContainerResize(ctx, vars["name"], uint(h), uint(wd)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *router) pause(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	if err := r.b.ContainerPause(ctx, vars["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *router) unpause(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	if err := r.b.ContainerUnpause(ctx, vars["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *router) top(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	res, err := r.b.ContainerTop(ctx, vars["name"], req.Form.Get("ps_args"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, res)
}

func (r *router) update(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var u container.UpdateConfig
	if err := httputils.ReadJSON(req, &u); err != nil {
		return err
	}
	resp, err := r.b.ContainerUpdate(ctx, vars["name"], &u)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (r *router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := filters.FromJSON(req.Form.Get("filters"))
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	rep, err := r.b.ContainersPrune(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}

func (r *router) stats(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	stream := true
	if req.Form.Get("stream") != "" {
		stream = httputils.BoolValue(req, "stream")
	}
	oneShot := httputils.BoolValue(req, "one-shot")
	if oneShot && stream {
		return errdefs.InvalidParameter("cannot have stream=true and one-shot=true")
	}
	fw := httputils.NewFlushWriter(w, func() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	})
	return r.b.ContainerStats(ctx, vars["name"], StatsConfig{Stream: stream, OneShot: oneShot, Output: func() io.Writer {
		fw.Start()
		return fw
	}})
}

func (r *router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if httputils.BoolValue(req, "link") {
		if err := r.b.ContainerRemoveLink(ctx, vars["name"]); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := r.b.ContainerRemove(ctx, vars["name"], httputils.BoolValue(req, "force"), httputils.BoolValue(req, "v")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func streamType(tty bool) string {
	if tty {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

func (r *router) attach(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var hj *httputils.Hijacked
	defer func() {
		if hj != nil {
			hj.Conn.Close()
		}
	}()
	cfg := AttachConfig{
		UseStdin:   httputils.BoolValue(req, "stdin"),
		UseStdout:  httputils.BoolValue(req, "stdout"),
		UseStderr:  httputils.BoolValue(req, "stderr"),
		Logs:       httputils.BoolValue(req, "logs"),
		Stream:     httputils.BoolValue(req, "stream"),
		DetachKeys: req.Form.Get("detachKeys"),
		Streams: func(tty bool) (io.ReadCloser, io.Writer, error) {
			var err error
			hj, err = httputils.Hijack(w, req, streamType(tty))
			if err != nil {
				return nil, nil, err
			}
			var in io.ReadCloser
			if httputils.BoolValue(req, "stdin") {
				in = hj.In
			}
			return in, hj.Out, nil
		},
	}
	// net/http cancels the request context when the client half-closes its
	// side (docker does on stdin EOF), but output must keep flowing until
	// the process ends: the stream ends when the backend returns or a write
	// to the gone client fails.
	return r.b.ContainerAttach(context.WithoutCancel(ctx), vars["name"], cfg)
}

// parseTime reads since/until: unix seconds with an optional fraction, or RFC3339.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, errdefs.InvalidParameter(fmt.Sprintf("invalid time value %q", s))
}

func (r *router) logs(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	stdout, stderr := httputils.BoolValue(req, "stdout"), httputils.BoolValue(req, "stderr")
	if !stdout && !stderr {
		return errdefs.InvalidParameter("Bad parameters: you must choose at least one stream")
	}
	since, err := parseTime(req.Form.Get("since"))
	if err != nil {
		return err
	}
	until, err := parseTime(req.Form.Get("until"))
	if err != nil {
		return err
	}
	tail := -1
	if t := req.Form.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return errdefs.InvalidParameter(fmt.Sprintf("invalid value for tail: %q", t))
		}
		tail = n
	}
	cfg := LogsConfig{
		ShowStdout: stdout, ShowStderr: stderr,
		Follow:     httputils.BoolValue(req, "follow"),
		Timestamps: httputils.BoolValue(req, "timestamps"),
		Since:      since, Until: until, Tail: tail,
		Streams: func(tty bool) (io.ReadCloser, io.Writer, error) {
			fw := httputils.NewFlushWriter(w, func() {
				w.Header().Set("Content-Type", streamType(tty))
				w.WriteHeader(http.StatusOK)
			})
			fw.Start()
			return nil, fw, nil
		},
	}
	return r.b.ContainerLogs(ctx, vars["name"], cfg)
}

func jsonEncode(w io.Writer, v any) error {
	return httputils.EncodeJSON(w, v)
}
