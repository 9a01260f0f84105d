package container

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/daemon/httputils"
	"github.com/vchproject/vch/errdefs"
)

// copyBackend copies files into and out of containers (docker cp) and
// lists their changes (docker diff).
type copyBackend interface {
	ContainerStatPath(ctx context.Context, name, path string) (*container.PathStat, error)
	// ContainerArchivePath calls open with the stat of path before it
	// writes the tar to the writer open returns.
	ContainerArchivePath(ctx context.Context, name, path string, open func(*container.PathStat) (io.Writer, error)) error
	ContainerExtractToDir(ctx context.Context, name, path string, copyUIDGID, noOverwriteDirNonDir bool, content io.Reader) error
	ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error)
}

// pathStatHeader carries a container.PathStat, base64 JSON, as docker's.
const pathStatHeader = "X-Docker-Container-Path-Stat"

func setPathStat(h http.Header, st *container.PathStat) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	h.Set(pathStatHeader, base64.StdEncoding.EncodeToString(b))
	return nil
}

func archivePath(req *http.Request) (string, error) {
	p := req.Form.Get("path")
	if p == "" {
		return "", errdefs.InvalidParameter("Path cannot be empty")
	}
	return p, nil
}

func (r *router) headArchive(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	st, err := r.b.ContainerStatPath(ctx, vars["name"], p)
	if err != nil {
		return err
	}
	if err := setPathStat(w.Header(), st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *router) getArchive(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	return r.b.ContainerArchivePath(ctx, vars["name"], p, func(st *container.PathStat) (io.Writer, error) {
		if err := setPathStat(w.Header(), st); err != nil {
			return nil, err
		}
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		return w, nil
	})
}

func (r *router) putArchive(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	err = r.b.ContainerExtractToDir(ctx, vars["name"], p,
		httputils.BoolValue(req, "copyUIDGID"), httputils.BoolValue(req, "noOverwriteDirNonDir"), req.Body)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *router) changes(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	cs, err := r.b.ContainerChanges(ctx, vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, cs)
}
