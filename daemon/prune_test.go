package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

func (f *fakeContainers) ContainersPrune(_ context.Context, args filters.Args) (*container.PruneReport, error) {
	return &container.PruneReport{ContainersDeleted: args.Get("label")}, nil
}

func (f *fakeImages) ImagesPrune(_ context.Context, args filters.Args) (*image.PruneReport, error) {
	rep := &image.PruneReport{}
	for _, v := range args.Get("dangling") {
		rep.ImagesDeleted = append(rep.ImagesDeleted, image.DeleteResponse{Deleted: v})
	}
	return rep, nil
}

func TestPruneRoutes(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	w := do(t, h, http.MethodPost, `/v1.45/containers/prune?filters={"label":{"a=b":true}}`, "")
	var c container.PruneReport
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &c) != nil || len(c.ContainersDeleted) != 1 || c.ContainersDeleted[0] != "a=b" {
		t.Fatalf("container prune: %d %s", w.Code, w.Body)
	}
	w = do(t, h, http.MethodPost, `/v1.45/images/prune?filters={"dangling":{"false":true}}`, "")
	var i image.PruneReport
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &i) != nil || len(i.ImagesDeleted) != 1 || i.ImagesDeleted[0].Deleted != "false" {
		t.Fatalf("image prune: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, http.MethodPost, `/v1.45/containers/prune?filters=nonsense`, ""); w.Code != http.StatusBadRequest {
		t.Fatalf("bad filters: %d", w.Code)
	}
}

func (f *fakeContainers) ContainerUpdate(_ context.Context, name string, u *container.UpdateConfig) (container.UpdateResponse, error) {
	return container.UpdateResponse{Warnings: []string{name + " " + string(u.RestartPolicy.Name)}}, nil
}

func TestUpdateRoute(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	w := do(t, h, http.MethodPost, "/v1.45/containers/web/update", `{"RestartPolicy":{"Name":"always"}}`)
	var r container.UpdateResponse
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &r) != nil || len(r.Warnings) != 1 || r.Warnings[0] != "web always" {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
}
