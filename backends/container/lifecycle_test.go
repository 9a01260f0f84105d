package container

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/backends/internal/fakestore"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

func wantErr(t *testing.T, err error, class func(error) bool, text string) {
	t.Helper()
	if err == nil || !class(err) || err.Error() != text {
		t.Fatalf("error %v\nwant  %s", err, text)
	}
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("web", container.Config{Env: []string{"A=mine"}, Labels: map[string]string{"x": "y"}},
		&container.HostConfig{Resources: container.Resources{Memory: 300 << 20, NanoCPUs: 1_500_000_000}, ExtraHosts: []string{"db:10.0.0.2"}, DNS: []string{"10.0.0.53"}})
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("id %q", id)
	}
	c, err := e.pl.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Spec
	if s.Image != e.busybox.ID || strings.Join(s.Process.Args, " ") != "sh" || s.Hostname != id[:12] ||
		s.MemoryMB != 300 || s.CPUs != 2 || len(s.Hosts) != 1 || s.Hosts[0].IP != "10.0.0.2" || s.DNS[0] != "10.0.0.53" ||
		strings.Join(s.Process.Env, " ") != "PATH=/bin HOSTNAME="+id[:12]+" A=mine" {
		t.Fatalf("spec %+v", s)
	}
	ins := e.inspect("web")
	if ins.Name != "/web" || ins.Config.Hostname != id[:12] || ins.Config.Image != "busybox" || ins.Image != e.busybox.ID ||
		ins.Config.Labels["x"] != "y" || ins.Config.Labels["from"] != "image" || strings.Join(ins.Config.Env, " ") != "A=mine PATH=/bin" {
		t.Fatalf("inspect %+v %+v", ins.ContainerJSONBase, ins.Config)
	}

	_, err = e.b.ContainerCreate(ctx, containerrouter.CreateConfig{Name: "/web", Config: &container.Config{Image: "busybox"}})
	wantErr(t, err, errdefs.IsConflict, `Conflict. The container name "/web" is already in use by container "`+id+`". You have to remove (or rename) that container to be able to reuse that name.`)
	_, err = e.b.ContainerCreate(ctx, containerrouter.CreateConfig{Name: "bad name", Config: &container.Config{Image: "busybox"}})
	wantErr(t, err, errdefs.IsInvalidParameter, "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
	_, err = e.b.ContainerCreate(ctx, containerrouter.CreateConfig{Config: &container.Config{Image: "nope"}})
	wantErr(t, err, errdefs.IsNotFound, "No such image: nope:latest")
	_, err = e.b.ContainerCreate(ctx, containerrouter.CreateConfig{Config: &container.Config{Image: "busybox", Entrypoint: []string{""}}})
	wantErr(t, err, errdefs.IsInvalidParameter, "no command specified")
	_, err = e.b.ContainerCreate(ctx, containerrouter.CreateConfig{Config: &container.Config{Image: "busybox"}, HostConfig: &container.HostConfig{ExtraHosts: []string{"x"}}})
	wantErr(t, err, errdefs.IsInvalidParameter, `bad format for add-host: "x"`)

	// Generated names; the image by short ID.
	gen := e.create("", container.Config{Image: e.busybox.ID[7:19]}, nil)
	if name := e.inspect(gen).Name; !regexp.MustCompile(`^/[a-z]+_[a-z]+$`).MatchString(name) {
		t.Fatalf("generated name %q", name)
	}
	// Failed creates leave no name behind.
	if got := len(e.b.index.IDs()); got != 2 {
		t.Fatalf("%d names reserved", got)
	}
}

func TestResolveByPrefixAndRebuild(t *testing.T) {
	e := newEnv(t)
	id := e.create("one", container.Config{}, nil)
	if got := e.inspect(id[:5]).ID; got != id {
		t.Fatalf("prefix resolved to %s", got)
	}
	if got := e.inspect("/one").ID; got != id {
		t.Fatalf("/name resolved to %s", got)
	}
	_, err := e.b.ContainerInspect(context.Background(), "ghost", false)
	wantErr(t, err, errdefs.IsNotFound, "No such container: ghost")

	// A restarted vchd finds names in the port layer's Meta.
	e.restart()
	if got := e.inspect("one").ID; got != id {
		t.Fatalf("after restart: %s", got)
	}
	_, err = e.b.ContainerCreate(context.Background(), containerrouter.CreateConfig{Name: "one", Config: &container.Config{Image: "busybox"}})
	if !errdefs.IsConflict(err) {
		t.Fatalf("name free after restart: %v", err)
	}
}

func TestStartStopKill(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("sl", container.Config{Cmd: []string{"sleep", "1000"}}, nil)
	e.start("sl")
	ins := e.inspect("sl")
	if ins.State.Status != "running" || !ins.State.Running || ins.State.StartedAt == zeroTime || ins.State.FinishedAt != zeroTime {
		t.Fatalf("state %+v", ins.State)
	}
	if err := e.b.ContainerStart(ctx, "sl"); !errdefs.IsNotModified(err) {
		t.Fatalf("second start: %v", err)
	}
	if err := e.b.ContainerStop(ctx, "sl", nil, "NOPE"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad signal: %v", err)
	}
	if err := e.b.ContainerStop(ctx, "sl", nil, ""); err != nil {
		t.Fatal(err)
	}
	ins = e.inspect("sl")
	if ins.State.Status != "exited" || ins.State.ExitCode != 143 || ins.State.FinishedAt == zeroTime {
		t.Fatalf("after stop %+v", ins.State)
	}
	if err := e.b.ContainerStop(ctx, "sl", nil, ""); !errdefs.IsNotModified(err) {
		t.Fatalf("stop stopped: %v", err)
	}
	id := ins.ID
	wantErr(t, e.b.ContainerKill(ctx, "sl", ""), errdefs.IsConflict, "cannot kill container: sl: container "+id+" is not running")
	wantErr(t, e.b.ContainerResize(ctx, "sl", 1, 1), errdefs.IsConflict, "container "+id+" is not running")

	// A container that ignores SIGTERM: timeout 0 goes straight to SIGKILL.
	e.create("stub", container.Config{Cmd: []string{"stubborn"}, StopSignal: "SIGUSR2"}, nil)
	e.start("stub")
	zero := 0
	if err := e.b.ContainerStop(ctx, "stub", &zero, ""); err != nil {
		t.Fatal(err)
	}
	stubID := e.inspect("stub").ID
	if sigs := e.pl.Signals(stubID); len(sigs) != 2 || sigs[0] != syscall.SIGUSR2 || sigs[1] != syscall.SIGKILL {
		t.Fatalf("signals %v", sigs)
	}
	if code := e.inspect("stub").State.ExitCode; code != 137 {
		t.Fatalf("exit %d", code)
	}

	// Kill with a signal, and the default SIGKILL.
	e.start("sl")
	if err := e.b.ContainerResize(ctx, "sl", 30, 100); err != nil {
		t.Fatal(err)
	}
	if err := e.b.ContainerKill(ctx, "sl", "USR1"); err != nil {
		t.Fatal(err)
	}
	if r := e.wait("sl", container.WaitConditionNotRunning); r.StatusCode != 138 {
		t.Fatalf("kill USR1 exit %d", r.StatusCode)
	}
	e.start("stub")
	if err := e.b.ContainerKill(ctx, "stub", ""); err != nil {
		t.Fatal(err)
	}
	if st := e.inspect("stub").State; st.Running || st.ExitCode != 137 {
		t.Fatalf("after kill %+v", st)
	}
}

func TestStartFailureKeepsCreated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("bad", container.Config{Cmd: []string{"nosuchcmd"}}, nil)
	err := e.b.ContainerStart(ctx, "bad")
	wantErr(t, err, errdefs.IsInvalidParameter, `exec: "nosuchcmd": executable file not found in $PATH`)
	st := e.inspect("bad").State
	if st.Status != "created" || st.ExitCode != 127 || st.Error != err.Error() || st.StartedAt != zeroTime {
		t.Fatalf("state %+v", st)
	}
	if r := e.wait("bad", ""); r.StatusCode != 127 {
		t.Fatalf("wait %d", r.StatusCode)
	}
	list, err := e.b.Containers(ctx, containerrouter.ListConfig{All: true, Filters: filters.NewArgs()})
	if err != nil || len(list) != 1 || list[0].Status != "Created" || list[0].State != "created" {
		t.Fatalf("ps %+v %v", list, err)
	}
}

func TestAutoRemove(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rm := &container.HostConfig{AutoRemove: true}

	// docker run --rm: wait(removed) registered before the start.
	e.create("quick", container.Config{Cmd: []string{"sh", "-c", "exit 4"}}, rm)
	ch, err := e.b.ContainerWait(ctx, "quick", container.WaitConditionRemoved)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removed-wait registered", func() bool { return e.pl.Waiters(e.inspect("quick").ID) > 0 })
	e.start("quick")
	if r := recv(t, ch, "wait removed"); r.Err != nil || r.StatusCode != 4 {
		t.Fatalf("wait removed %+v", r)
	}
	if _, err := e.b.ContainerInspect(ctx, "quick", false); !errdefs.IsNotFound(err) {
		t.Fatalf("not removed: %v", err)
	}
	// The name is free again.
	e.create("quick", container.Config{}, nil)

	// A failed start removes it too.
	e.create("broken", container.Config{Cmd: []string{"nosuchcmd"}}, rm)
	if err := e.b.ContainerStart(ctx, "broken"); !errdefs.IsInvalidParameter(err) {
		t.Fatal(err)
	}
	if _, err := e.b.ContainerInspect(ctx, "broken", false); !errdefs.IsNotFound(err) {
		t.Fatalf("failed --rm container kept: %v", err)
	}

	// Exited while vchd was down: removed by New.
	down := e.create("down", container.Config{Cmd: []string{"sleep"}}, rm)
	e.start("down")
	e.b.Close() // vchd stops; its watcher goes with it
	if err := e.pl.Signal(ctx, down, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pl.Wait(ctx, down, compute.WaitNotRunning); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pl.Inspect(ctx, down); err != nil {
		t.Fatalf("removed without a backend: %v", err)
	}
	e.restart()
	if _, err := e.pl.Inspect(ctx, down); !errdefs.IsNotFound(err) {
		t.Fatalf("New kept an exited --rm container: %v", err)
	}

	// Running across a restart: New watches it.
	up := e.create("up", container.Config{Cmd: []string{"sleep"}}, rm)
	e.start("up")
	e.restart()
	eventually(t, "New watching the running container", func() bool { return e.pl.Waiters(up) > 0 })
	ch, err = e.b.ContainerWait(ctx, "up", container.WaitConditionRemoved)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watcher and this wait registered", func() bool { return e.pl.Waiters(up) >= 2 })
	if err := e.b.ContainerStop(ctx, "up", nil, ""); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, ch, "wait removed after restart"); r.StatusCode != 143 {
		t.Fatalf("wait removed after restart %+v", r)
	}
	if _, err := e.pl.Inspect(ctx, up); !errdefs.IsNotFound(err) {
		t.Fatalf("--rm container kept after restart and exit: %v", err)
	}

	// A created (never started) --rm container survives a restart.
	e.create("idle", container.Config{}, rm)
	e.restart()
	e.inspect("idle")
}

func TestRemove(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("rm", container.Config{Cmd: []string{"sleep"}}, nil)
	e.start("rm")
	// dockerd 20.10's text (docker-py 5.0.3 looks for "You cannot remove ")
	wantErr(t, e.b.ContainerRemove(ctx, "rm", false, false), errdefs.IsConflict,
		"You cannot remove a running container "+id+". Stop the container before attempting removal or force remove")
	if err := e.b.ContainerRemove(ctx, "rm", true, false); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.b.ContainerRemove(ctx, "rm", true, false), errdefs.IsNotFound, "No such container: rm")
	e.create("rm", container.Config{}, nil)
	if err := e.b.ContainerRemove(ctx, "rm", false, false); err != nil {
		t.Fatal(err)
	}
}

func TestRename(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.create("aa", container.Config{}, nil)
	b := e.create("bb", container.Config{}, nil)
	wantErr(t, e.b.ContainerRename(ctx, "aa", "bb"), errdefs.IsConflict,
		`Error when allocating new name: Conflict. The container name "/bb" is already in use by container "`+b+`". You have to remove (or rename) that container to be able to reuse that name.`)
	wantErr(t, e.b.ContainerRename(ctx, "aa", "/aa"), errdefs.IsInvalidParameter, "Renaming a container with the same name as its current name")
	wantErr(t, e.b.ContainerRename(ctx, "aa", ""), errdefs.IsInvalidParameter, "Neither old nor new names may be empty")
	wantErr(t, e.b.ContainerRename(ctx, "aa", "x y"), errdefs.IsInvalidParameter, "Error when allocating new name: Invalid container name (/x y), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
	if err := e.b.ContainerRename(ctx, "aa", "cc"); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if got := e.inspect("cc"); got.ID != a || got.Name != "/cc" {
		t.Fatalf("renamed %s %s", got.ID, got.Name)
	}
	e.create("aa", container.Config{}, nil) // the old name is free
}

func TestInspectShape(t *testing.T) {
	e := newEnv(t)
	e.create("ii", container.Config{Entrypoint: []string{"/bin/echo", "-n"}, Cmd: []string{"hi"}}, nil)
	ins := e.inspect("ii")
	raw, err := json.Marshal(ins)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"Path":"/bin/echo"`, `"Args":["-n","hi"]`, `"Status":"created"`, `"StartedAt":"0001-01-01T00:00:00Z"`,
		`"FinishedAt":"0001-01-01T00:00:00Z"`, `"Name":"/ii"`, `"Driver":"vch"`, `"Platform":"linux"`,
		`"Mounts":[]`, `"GraphDriver":{"Data":{},"Name":"vch"}`, `"Networks":{}`, `"Image":"` + e.busybox.ID + `"`,
		`"Created":"2024-05-01T12:00:01Z"`, `"NetworkMode":"bridge"`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("inspect JSON lacks %s", want)
		}
	}
}

func TestList(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("old", container.Config{Cmd: []string{"sh", "-c", "exit 3"}, Labels: map[string]string{"app": "x"}}, nil)
	e.create("mid", container.Config{Cmd: []string{"sleep", "9"}}, nil)
	e.create("new", container.Config{}, nil)
	e.start("old")
	e.wait("old", "")
	e.start("mid")

	list := func(cfg containerrouter.ListConfig) string {
		t.Helper()
		if cfg.Filters.Len() == 0 {
			cfg.Filters = filters.NewArgs()
		}
		got, err := e.b.Containers(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, c := range got {
			s = append(s, c.Names[0]+"|"+c.State+"|"+c.Command)
		}
		return strings.Join(s, " ")
	}
	if got := list(containerrouter.ListConfig{}); got != "/mid|running|sleep 9" {
		t.Fatalf("ps: %s", got)
	}
	if got := list(containerrouter.ListConfig{All: true}); got != "/new|created|sh /mid|running|sleep 9 /old|exited|sh -c exit 3" {
		t.Fatalf("ps -a: %s", got)
	}
	if got := list(containerrouter.ListConfig{Limit: 1}); got != "/new|created|sh" {
		t.Fatalf("ps -n 1: %s", got)
	}
	if got := list(containerrouter.ListConfig{Filters: filters.NewArgs(filters.Arg("status", "exited"))}); got != "/old|exited|sh -c exit 3" {
		t.Fatalf("status filter: %s", got)
	}
	if got := list(containerrouter.ListConfig{All: true, Filters: filters.NewArgs(filters.Arg("label", "app=x"), filters.Arg("exited", "3"))}); got != "/old|exited|sh -c exit 3" {
		t.Fatalf("label+exited: %s", got)
	}
	if got := list(containerrouter.ListConfig{All: true, Filters: filters.NewArgs(filters.Arg("ancestor", "busybox"))}); strings.Count(got, "|") != 6 {
		t.Fatalf("ancestor: %s", got)
	}
	_, err := e.b.Containers(ctx, containerrouter.ListConfig{Filters: filters.NewArgs(filters.Arg("status", "foo"))})
	if !errdefs.IsInvalidParameter(err) || !strings.HasPrefix(err.Error(), "invalid filter 'status=foo'") {
		t.Fatalf("bad status: %v", err)
	}
	_, err = e.b.Containers(ctx, containerrouter.ListConfig{Filters: filters.NewArgs(filters.Arg("colour", "x"))})
	wantErr(t, err, errdefs.IsInvalidParameter, "invalid filter 'colour'")

	// The tag moves to another image: ps shows the old image's ID.
	if err := e.images.TagImage(ctx, e.busybox.ID, "busybox", "old"); err != nil {
		t.Fatal(err)
	}
	other := fakestore.Image(map[string]any{"os": "linux", "config": map[string]any{"Cmd": []string{"sh"}}}, time.Now(), 1)
	e.store.Local(other)
	if err := e.images.TagImage(ctx, other.ID, "busybox", "latest"); err != nil {
		t.Fatal(err)
	}
	moved, _ := e.b.Containers(ctx, containerrouter.ListConfig{All: true, Filters: filters.NewArgs()})
	if len(moved) != 3 || moved[0].Image != e.busybox.ID {
		t.Fatalf("after the tag moved: %+v", moved)
	}
	if err := e.images.TagImage(ctx, e.busybox.ID, "busybox", "latest"); err != nil {
		t.Fatal(err)
	}

	all, _ := e.b.Containers(ctx, containerrouter.ListConfig{All: true, Filters: filters.NewArgs()})
	for _, c := range all {
		if c.Ports == nil || c.Mounts == nil || c.Labels == nil || c.NetworkSettings == nil || c.NetworkSettings.Networks == nil ||
			c.Image != "busybox" || c.ImageID != e.busybox.ID || c.HostConfig.NetworkMode != "bridge" {
			t.Fatalf("summary shape %+v", c)
		}
		if c.Names[0] == "/old" && !strings.HasPrefix(c.Status, "Exited (3) ") {
			t.Fatalf("status %q", c.Status)
		}
		if c.Names[0] == "/mid" && !strings.HasPrefix(c.Status, "Up ") {
			t.Fatalf("status %q", c.Status)
		}
	}
}
