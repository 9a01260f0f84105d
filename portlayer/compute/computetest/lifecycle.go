package computetest

import (
	"context"
	"io"
	"reflect"
	"syscall"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

func (s *suite) createInspectList(ctx context.Context, t *testing.T, p compute.Provider) {
	a := s.spec(t, CmdTrue)
	a.Hosts = []compute.HostEntry{{IP: "10.0.0.1", Names: []string{"db"}}}
	a.DNS = []string{"10.0.0.53"}
	if err := p.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	id2 := s.create(ctx, t, p, CmdExit3)

	c := inspect(ctx, t, p, a.ID)
	if !reflect.DeepEqual(c.Spec, a) {
		t.Fatalf("inspect spec:\n got %+v\nwant %+v", c.Spec, a)
	}
	if c.Status.State != compute.StateCreated || !c.Status.StartedAt.IsZero() || c.Status.Pid != 0 {
		t.Fatalf("new container status %+v", c.Status)
	}

	list, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range list {
		seen[c.Spec.ID] = true
	}
	if len(list) != 2 || !seen[a.ID] || !seen[id2] {
		t.Fatalf("list has %d containers, want exactly %s and %s", len(list), a.ID, id2)
	}

	if err := p.Update(ctx, a.ID, []byte(`{"name":"renamed"}`)); err != nil {
		t.Fatal(err)
	}
	if got := string(inspect(ctx, t, p, a.ID).Spec.Meta); got != `{"name":"renamed"}` {
		t.Fatalf("meta after update %q", got)
	}
}

func (s *suite) createDuplicate(ctx context.Context, t *testing.T, p compute.Provider) {
	spec := s.spec(t, CmdTrue)
	if err := p.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := p.Create(ctx, spec); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	if list, _ := p.List(ctx); len(list) != 1 {
		t.Fatalf("list has %d containers after a duplicate create, want 1", len(list))
	}
}

func (s *suite) createInvalid(ctx context.Context, t *testing.T, p compute.Provider) {
	for name, edit := range map[string]func(*compute.Spec){
		"short id":     func(sp *compute.Spec) { sp.ID = "abc" },
		"uppercase id": func(sp *compute.Spec) { sp.ID = "A" + sp.ID[1:] },
		"no command":   func(sp *compute.Spec) { sp.Process.Args = nil },
	} {
		spec := s.spec(t, CmdTrue)
		edit(&spec)
		if err := p.Create(ctx, spec); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%s: create: %v, want InvalidParameter", name, err)
		}
	}
	if list, _ := p.List(ctx); len(list) != 0 {
		t.Fatalf("invalid creates left %d containers", len(list))
	}
}

func (s *suite) unknownID(ctx context.Context, t *testing.T, p compute.Provider) {
	id := newID(t)
	check := func(op string, err error) {
		t.Helper()
		if !errdefs.IsNotFound(err) {
			t.Errorf("%s of an unknown id: %v, want NotFound", op, err)
		}
	}
	_, err := p.Inspect(ctx, id)
	check("inspect", err)
	check("update", p.Update(ctx, id, nil))
	check("start", p.Start(ctx, id))
	check("signal", p.Signal(ctx, id, syscall.SIGTERM))
	check("kill", p.Kill(ctx, id))
	_, err = p.Wait(ctx, id, compute.WaitNotRunning)
	check("wait", err)
	_, err = p.Logs(ctx, id, compute.LogOptions{Tail: -1})
	check("logs", err)
	check("attach", p.Attach(ctx, id, compute.AttachOptions{Stdout: io.Discard, Stream: true}))
	check("resize", p.Resize(ctx, id, 24, 80))
	check("remove", p.Remove(ctx, id))
}

func (s *suite) exitCode(ctx context.Context, t *testing.T, p compute.Provider) {
	for _, tc := range []struct {
		args []string
		code int
	}{{CmdTrue, 0}, {CmdExit3, 3}} {
		id := s.create(ctx, t, p, tc.args)
		st := run(ctx, t, p, id)
		if st.State != compute.StateExited || st.ExitCode != tc.code {
			t.Fatalf("%v: status %+v, want exited with %d", tc.args, st, tc.code)
		}
		c := inspect(ctx, t, p, id)
		if c.Status.State != compute.StateExited || c.Status.ExitCode != tc.code || c.Status.Pid != 0 {
			t.Fatalf("%v: inspect %+v", tc.args, c.Status)
		}
		if c.Status.StartedAt.IsZero() || c.Status.FinishedAt.Before(c.Status.StartedAt) {
			t.Fatalf("%v: started %v finished %v", tc.args, c.Status.StartedAt, c.Status.FinishedAt)
		}
		if len(c.Status.Boot) == 0 {
			t.Fatalf("%v: no boot steps recorded", tc.args)
		}
	}
}

func (s *suite) startRunning(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep)
	startOK(ctx, t, p, id)
	c := inspect(ctx, t, p, id)
	if c.Status.State != compute.StateRunning || c.Status.Pid == 0 || c.Status.StartedAt.IsZero() {
		t.Fatalf("running status %+v", c.Status)
	}
	if err := p.Start(ctx, id); !errdefs.IsNotModified(err) {
		t.Fatalf("start of a running container: %v, want NotModified", err)
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, p, id, compute.WaitNotRunning)
}

func (s *suite) startFailure(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdMissing)
	err := p.Start(ctx, id)
	if err == nil {
		t.Fatal("start of a missing command succeeded")
	}
	t.Logf("start error: %v", err)
	st := waitFor(ctx, t, p, id, compute.WaitNotRunning)
	if st.State == compute.StateRunning {
		t.Fatalf("status after a failed start %+v", st)
	}
	// The container can still be removed: nothing of the failed start is
	// left running.
	if err := p.Remove(ctx, id); err != nil {
		t.Fatalf("remove after a failed start: %v", err)
	}
}

func (s *suite) signalTerm(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep)
	if err := p.Signal(ctx, id, syscall.SIGTERM); !errdefs.IsConflict(err) {
		t.Fatalf("signal before start: %v, want Conflict", err)
	}
	startOK(ctx, t, p, id)
	if err := p.Signal(ctx, id, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st := waitFor(ctx, t, p, id, compute.WaitNotRunning)
	if st.State != compute.StateExited || st.ExitCode != 143 {
		t.Fatalf("after SIGTERM: %+v, want exited 143", st)
	}
}

func (s *suite) kill(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep)
	if err := p.Kill(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("kill before start: %v, want Conflict", err)
	}
	startOK(ctx, t, p, id)
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	st := waitFor(ctx, t, p, id, compute.WaitNotRunning)
	if st.State != compute.StateExited || st.ExitCode != 137 {
		t.Fatalf("after kill: %+v, want exited 137", st)
	}
	// A killed container starts again.
	startOK(ctx, t, p, id)
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st := waitFor(ctx, t, p, id, compute.WaitNotRunning); st.ExitCode != 137 {
		t.Fatalf("second kill: %+v", st)
	}
}

func (s *suite) removeRunning(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep)
	startOK(ctx, t, p, id)
	if err := p.Remove(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("remove while running: %v, want Conflict", err)
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, p, id, compute.WaitNotRunning)
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Inspect(ctx, id); !errdefs.IsNotFound(err) {
		t.Fatalf("inspect after remove: %v, want NotFound", err)
	}
	if list, _ := p.List(ctx); len(list) != 0 {
		t.Fatalf("list after remove has %d containers", len(list))
	}
	// The id can be used again.
	spec := s.spec(t, CmdTrue)
	spec.ID = id
	if err := p.Create(ctx, spec); err != nil {
		t.Fatalf("create with a removed id: %v", err)
	}
}

func (s *suite) writableLayerKept(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdPersist)
	if st := run(ctx, t, p, id); st.ExitCode != 0 {
		t.Fatalf("first run: %+v", st)
	}
	if st := run(ctx, t, p, id); st.ExitCode != 0 {
		t.Fatalf("second run: %+v", st)
	}
	out, _, _ := logs(ctx, t, p, id, compute.LogOptions{Tail: -1})
	if out != "new\nkept\n" {
		t.Fatalf("output of two runs %q, want %q", out, "new\nkept\n")
	}
}

// closer is implemented by providers that must be shut down before the
// same state is reopened.
type closer interface{ Close() error }

func (s *suite) restartProvider(ctx context.Context, t *testing.T, p compute.Provider) {
	done := s.create(ctx, t, p, CmdExit3)
	if st := run(ctx, t, p, done); st.ExitCode != 3 {
		t.Fatalf("run: %+v", st)
	}
	live := s.create(ctx, t, p, CmdSleep)
	startOK(ctx, t, p, live)
	created := s.create(ctx, t, p, CmdTrue)
	before := inspect(ctx, t, p, live)

	if c, ok := p.(closer); ok {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	q := s.factory(t)

	if c := inspect(ctx, t, q, done); c.Status.State != compute.StateExited || c.Status.ExitCode != 3 {
		t.Fatalf("exited container after restart: %+v", c.Status)
	}
	if c := inspect(ctx, t, q, created); c.Status.State != compute.StateCreated {
		t.Fatalf("created container after restart: %+v", c.Status)
	}
	c := inspect(ctx, t, q, live)
	if c.Status.State != compute.StateRunning || c.Status.Pid != before.Status.Pid || !c.Status.StartedAt.Equal(before.Status.StartedAt) {
		t.Fatalf("running container after restart: %+v, before %+v", c.Status, before.Status)
	}
	if list, _ := q.List(ctx); len(list) != 3 {
		t.Fatalf("list after restart has %d containers, want 3", len(list))
	}
	// The re-attached VM is controllable: signal reaches it, its exit is seen.
	if err := q.Signal(ctx, live, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st := waitFor(ctx, t, q, live, compute.WaitNotRunning); st.ExitCode != 143 {
		t.Fatalf("re-attached container after SIGTERM: %+v", st)
	}
	if err := q.Remove(ctx, live); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) resize(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep, func(sp *compute.Spec) { sp.Process.Tty = true })
	if err := p.Resize(ctx, id, 24, 80); !errdefs.IsConflict(err) {
		t.Fatalf("resize before start: %v, want Conflict", err)
	}
	startOK(ctx, t, p, id)
	if err := p.Resize(ctx, id, 40, 120); err != nil {
		t.Fatalf("resize of a running TTY: %v", err)
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, p, id, compute.WaitNotRunning)
}
