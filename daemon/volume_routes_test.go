package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/vchproject/vch/errdefs"
)

// fakeVolumes records what the routes decoded.
type fakeVolumes struct {
	filters filters.Args
	created volume.CreateOptions
	removed string
	force   bool
}

func (f *fakeVolumes) VolumeList(_ context.Context, a filters.Args) ([]*volume.Volume, error) {
	f.filters = a
	return nil, nil
}

func (f *fakeVolumes) VolumeInspect(_ context.Context, name string) (*volume.Volume, error) {
	if name != "v1" {
		return nil, errdefs.NotFound("get " + name + ": no such volume")
	}
	return &volume.Volume{Name: "v1", Driver: "local"}, nil
}

func (f *fakeVolumes) VolumeCreate(_ context.Context, o volume.CreateOptions) (*volume.Volume, error) {
	f.created = o
	return &volume.Volume{Name: o.Name, Driver: "local"}, nil
}

func (f *fakeVolumes) VolumeRemove(_ context.Context, name string, force bool) error {
	f.removed, f.force = name, force
	if name == "busy" {
		return errdefs.Conflict("remove busy: volume is in use - [abc]")
	}
	return nil
}

func (f *fakeVolumes) VolumePrune(_ context.Context, a filters.Args) (*volume.PruneReport, error) {
	f.filters = a
	return &volume.PruneReport{}, nil
}

func TestVolumeRoutes(t *testing.T) {
	fv := &fakeVolumes{}
	s, err := New(Config{Containers: &fakeContainers{}, Images: &fakeImages{}, System: fakeSystem{}, Volumes: fv})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()

	w := do(t, h, http.MethodGet, `/v1.45/volumes?filters={"dangling":{"true":true}}`, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"Volumes":[]`) || !fv.filters.ExactMatch("dangling", "true") {
		t.Fatalf("list: %d %s %v", w.Code, w.Body.String(), fv.filters)
	}
	w = do(t, h, http.MethodPost, "/v1.45/volumes/create", `{"Name":"hello1","DriverOpts":{"VolumeStore":"default","Capacity":"1G"}}`)
	if w.Code != 201 || fv.created.Name != "hello1" || fv.created.DriverOpts["Capacity"] != "1G" {
		t.Fatalf("create: %d %s %+v", w.Code, w.Body.String(), fv.created)
	}
	w = do(t, h, http.MethodGet, "/volumes/v1", "")
	var v volume.Volume
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &v) != nil || v.Name != "v1" {
		t.Fatalf("inspect: %d %s", w.Code, w.Body.String())
	}
	if w := do(t, h, http.MethodGet, "/volumes/nope", ""); w.Code != 404 || message(t, w) != "get nope: no such volume" {
		t.Fatalf("inspect unknown: %d %s", w.Code, w.Body.String())
	}
	if w := do(t, h, http.MethodDelete, "/volumes/v1?force=1", ""); w.Code != 204 || fv.removed != "v1" || !fv.force {
		t.Fatalf("remove: %d %s", w.Code, w.Body.String())
	}
	if w := do(t, h, http.MethodDelete, "/volumes/busy", ""); w.Code != 409 || message(t, w) != "remove busy: volume is in use - [abc]" {
		t.Fatalf("remove busy: %d %s", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodPost, `/v1.45/volumes/prune?filters={"all":{"true":true}}`, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"VolumesDeleted":[]`) || !fv.filters.ExactMatch("all", "true") {
		t.Fatalf("prune: %d %s", w.Code, w.Body.String())
	}
	if w := do(t, h, http.MethodPost, "/volumes/create", `{"Name":`); w.Code != 400 {
		t.Fatalf("malformed create: %d", w.Code)
	}
}
