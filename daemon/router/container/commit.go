package container

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/daemon/httputils"
	"github.com/vchproject/vch/errdefs"
)

// CommitOptions are POST /commit's parameters.
type CommitOptions struct {
	Repo, Tag       string
	Author, Comment string
	Pause           bool     // pause a running container while its files are read
	Changes         []string // Dockerfile instructions applied to the config
	Config          *container.Config
}

// commitBackend makes images from containers (docker commit) and streams
// a container's whole file system (docker export).
type commitBackend interface {
	// ContainerCommit returns the new image's ID.
	ContainerCommit(ctx context.Context, name string, opts CommitOptions) (string, error)
	// ContainerExport calls open once the container is known, then writes
	// the tar of its root file system to the writer open returns.
	ContainerExport(ctx context.Context, name string, open func() (io.Writer, error)) error
}

// maxCommitConfig bounds POST /commit's body (a container config).
const maxCommitConfig = 1 << 20

func (r *router) commit(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if err := req.ParseForm(); err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	opts := CommitOptions{
		Repo:    req.Form.Get("repo"),
		Tag:     req.Form.Get("tag"),
		Author:  req.Form.Get("author"),
		Comment: req.Form.Get("comment"),
		Changes: req.Form["changes"],
		// API ≥ 1.13 (all vch serves) pauses unless told not to.
		Pause: req.Form.Get("pause") == "" || httputils.BoolValue(req, "pause"),
	}
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxCommitConfig))
		if err != nil {
			return errdefs.InvalidParameter("read body: " + err.Error())
		}
		if b = bytes.TrimSpace(b); len(b) > 0 && !bytes.Equal(b, []byte("null")) {
			var c container.Config
			if err := json.Unmarshal(b, &c); err != nil {
				return errdefs.InvalidParameter("invalid JSON: " + err.Error())
			}
			opts.Config = &c
		}
	}
	id, err := r.b.ContainerCommit(ctx, req.Form.Get("container"), opts)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, container.CommitResponse{ID: id})
}

func (r *router) export(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	return r.b.ContainerExport(ctx, vars["name"], func() (io.Writer, error) {
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		return w, nil
	})
}
