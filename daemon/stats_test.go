package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
)

// ContainerStats of the fake: "missing" is unknown; others get one
// sample per call naming the mode asked for.
func (f *fakeContainers) ContainerStats(_ context.Context, name string, cfg containerrouter.StatsConfig) error {
	if name == "missing" {
		return errdefs.NotFound("No such container: missing")
	}
	mode := "once"
	if cfg.Stream {
		mode = "stream"
	} else if cfg.OneShot {
		mode = "one-shot"
	}
	return json.NewEncoder(cfg.Output()).Encode(container.StatsResponse{Name: "/" + name, ID: mode})
}

func TestStatsRoute(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	for query, mode := range map[string]string{"": "stream", "?stream=false": "once", "?stream=0&one-shot=1": "one-shot"} {
		w := do(t, h, http.MethodGet, "/v1.45/containers/web/stats"+query, "")
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%q: status %d %q", query, w.Code, w.Header().Get("Content-Type"))
		}
		var s container.StatsResponse
		if err := json.NewDecoder(strings.NewReader(w.Body.String())).Decode(&s); err != nil || s.ID != mode || s.Name != "/web" {
			t.Fatalf("%q: %+v %v", query, s, err)
		}
	}
	if w := do(t, h, http.MethodGet, "/v1.45/containers/missing/stats?stream=false", ""); w.Code != http.StatusNotFound {
		t.Fatalf("unknown container: %d", w.Code)
	}
	if w := do(t, h, http.MethodGet, "/v1.45/containers/web/stats?stream=true&one-shot=true", ""); w.Code != http.StatusBadRequest {
		t.Fatalf("stream and one-shot: %d", w.Code)
	}
}
