package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/docker/docker/api/types/container"

	execrouter "github.com/vchproject/vch/daemon/router/exec"
	"github.com/vchproject/vch/errdefs"
)

// fakeExecs is a hand-written exec backend.
type fakeExecs struct {
	created *container.ExecOptions
	started execrouter.StartConfig
	size    [2]uint
}

func (f *fakeExecs) ExecCreate(_ context.Context, name string, o *container.ExecOptions) (string, error) {
	if name != "web" {
		return "", errdefs.NotFound("No such container: " + name)
	}
	f.created = o
	return "e1", nil
}

func (f *fakeExecs) ExecStart(_ context.Context, id string, c execrouter.StartConfig) error {
	if id != "e1" {
		return errdefs.NotFound("No such exec instance: " + id)
	}
	f.started = c
	return nil
}

func (f *fakeExecs) ExecResize(_ context.Context, id string, h, w uint) error {
	f.size = [2]uint{h, w}
	return nil
}

func (f *fakeExecs) ExecInspect(_ context.Context, id string) (*execrouter.Inspect, error) {
	if id != "e1" {
		return nil, errdefs.NotFound("No such exec instance: " + id)
	}
	code := 3
	return &execrouter.Inspect{ID: id, ExitCode: &code, ProcessConfig: &execrouter.ProcessConfig{Entrypoint: "sh"}}, nil
}

func TestExecRoutes(t *testing.T) {
	fe := &fakeExecs{}
	s, err := New(Config{Containers: &fakeContainers{}, Images: &fakeImages{}, System: fakeSystem{}, Execs: fe})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	w := do(t, h, http.MethodPost, "/v1.45/containers/web/exec", `{"Cmd":["sh"],"Tty":true,"User":"app"}`)
	if w.Code != http.StatusCreated || w.Body.String() != "{\"Id\":\"e1\"}\n" || fe.created.User != "app" || !fe.created.Tty {
		t.Fatalf("create: %d %q %+v", w.Code, w.Body.String(), fe.created)
	}
	w = do(t, h, http.MethodPost, "/containers/web/exec", `{"Cmd":[]}`)
	if w.Code != http.StatusBadRequest || message(t, w) != "No exec command specified" {
		t.Fatalf("create without Cmd: %d %q", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodPost, "/containers/nope/exec", `{"Cmd":["true"]}`)
	if w.Code != http.StatusNotFound {
		t.Fatalf("create in unknown container: %d", w.Code)
	}
	w = do(t, h, http.MethodPost, "/v1.45/exec/e1/start", `{"Detach":true}`)
	if w.Code != http.StatusOK || !fe.started.Detach || fe.started.Streams != nil {
		t.Fatalf("detached start: %d %+v", w.Code, fe.started)
	}
	w = do(t, h, http.MethodPost, "/exec/zz/start", `{"Detach":true}`)
	if w.Code != http.StatusNotFound || message(t, w) != "No such exec instance: zz" {
		t.Fatalf("start of unknown exec: %d %q", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodPost, "/exec/e1/resize?h=40&w=120", "")
	if w.Code != http.StatusOK || fe.size != [2]uint{40, 120} {
		t.Fatalf("resize: %d %v", w.Code, fe.size)
	}
	w = do(t, h, http.MethodPost, "/exec/e1/resize?h=x&w=1", "")
	if w.Code != http.StatusBadRequest {
		t.Fatalf("bad resize: %d", w.Code)
	}
	w = do(t, h, http.MethodGet, "/exec/e1/json", "")
	var ei struct {
		ID            string
		ExitCode      int
		ProcessConfig struct{ Entrypoint string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ei); err != nil || w.Code != 200 || ei.ExitCode != 3 || ei.ProcessConfig.Entrypoint != "sh" {
		t.Fatalf("inspect: %d %q", w.Code, w.Body.String())
	}
	w = do(t, h, http.MethodGet, "/exec/zz/json", "")
	if w.Code != http.StatusNotFound {
		t.Fatalf("inspect of unknown exec: %d", w.Code)
	}
}
