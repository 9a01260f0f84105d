package container

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute/fake"
)

func TestShouldRestart(t *testing.T) {
	p := func(name container.RestartPolicyMode, max int) container.RestartPolicy {
		return container.RestartPolicy{Name: name, MaximumRetryCount: max}
	}
	for _, tc := range []struct {
		p       container.RestartPolicy
		code    int
		manual  bool
		count   int
		restart bool
	}{
		{p("no", 0), 1, false, 0, false},
		{p("", 0), 1, false, 0, false},
		{p("always", 0), 0, false, 5, true},
		{p("always", 0), 0, true, 0, true},
		{p("unless-stopped", 0), 0, false, 0, true},
		{p("unless-stopped", 0), 1, true, 0, false},
		{p("on-failure", 0), 0, false, 0, false},
		{p("on-failure", 0), 1, false, 100, true},
		{p("on-failure", 2), 1, false, 1, true},
		{p("on-failure", 2), 1, false, 2, false},
	} {
		if got := shouldRestart(tc.p, tc.code, tc.manual, tc.count); got != tc.restart {
			t.Errorf("%+v code %d manual %v count %d: %v", tc.p, tc.code, tc.manual, tc.count, got)
		}
	}
}

func TestRestartDelay(t *testing.T) {
	d := time.Duration(0)
	var got []time.Duration
	for i := 0; i < 12; i++ {
		d = restartDelay(d, time.Second)
		got = append(got, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v", got)
		}
	}
	if restartDelay(time.Minute, 10*time.Second) != 100*time.Millisecond {
		t.Fatal("a 10 s run does not reset the back-off")
	}
}

func TestValidateRestartAndCancel(t *testing.T) {
	for _, tc := range []struct {
		hc   container.HostConfig
		want string
	}{
		{container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "always", MaximumRetryCount: 2}}, "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "no", MaximumRetryCount: -1}}, "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"},
		{container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: -1}}, "invalid restart policy: maximum retry count cannot be negative"},
		{container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "sometimes"}}, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
		{container.HostConfig{AutoRemove: true, RestartPolicy: container.RestartPolicy{Name: "always"}}, "can't create 'AutoRemove' container with restart policy"},
		{container.HostConfig{AutoRemove: true, RestartPolicy: container.RestartPolicy{Name: "no"}}, ""},
		{container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}}, ""},
	} {
		err := validateRestart(&tc.hc)
		if tc.want == "" && err != nil || tc.want != "" && (!errdefs.IsInvalidParameter(err) || err.Error() != tc.want) {
			t.Errorf("%+v: %v, want %q", tc.hc.RestartPolicy, err, tc.want)
		}
	}
	for _, tc := range []struct {
		sig    syscall.Signal
		stop   string
		cancel bool
	}{
		{syscall.SIGKILL, "SIGUSR1", true},
		{syscall.SIGUSR1, "SIGUSR1", true},
		{syscall.SIGUSR2, "SIGUSR1", false},
		{syscall.SIGHUP, "", true},
	} {
		if got := cancelsRestart(tc.sig, tc.stop); got != tc.cancel {
			t.Errorf("cancelsRestart(%d, %q) = %v", tc.sig, tc.stop, got)
		}
	}
}

func TestRestartPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.b.delayFn = func(_, _ time.Duration) time.Duration { return 0 }
	onFailure := &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}}
	id := e.create("flaky", container.Config{Cmd: []string{"false"}}, onFailure)
	e.start("flaky")
	eventually(t, "two restarts then stop", func() bool {
		ins := e.inspect("flaky")
		return ins.RestartCount == 2 && ins.State.Status == "exited" && !e.b.isRestarting(id)
	})
	if c, _ := e.pl.Inspect(ctx, id); c.Status.ExitCode != 1 {
		t.Fatalf("exit %d", c.Status.ExitCode)
	}
	// A user start resets the count.
	e.start("flaky")
	eventually(t, "restarts after the user's start", func() bool {
		ins := e.inspect("flaky")
		return ins.RestartCount == 2 && ins.State.Status == "exited" && !e.b.isRestarting(id)
	})

	// Restarting is visible, and a stop then cancels it.
	e.b.delayFn = func(_, _ time.Duration) time.Duration { return time.Hour }
	always := &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "always"}}
	ad := e.create("always", container.Config{Cmd: []string{"true"}}, always)
	e.start("always")
	eventually(t, "restarting, counted", func() bool {
		ins := e.inspect("always")
		return e.b.isRestarting(ad) && ins.RestartCount == 1
	})
	ins := e.inspect("always")
	if ins.State.Status != "restarting" || !ins.State.Restarting || !ins.State.Running || ins.RestartCount != 1 {
		t.Fatalf("state %+v count %d", ins.State, ins.RestartCount)
	}
	list, err := e.b.Containers(ctx, containerrouter.ListConfig{Filters: filters.NewArgs(filters.Arg("status", "restarting"))})
	if err != nil || len(list) != 1 || list[0].ID != ad {
		t.Fatalf("ps restarting: %+v %v", list, err)
	}
	wantErr(t, e.b.ContainerRemove(ctx, "always", false, false), errdefs.IsConflict,
		"You cannot remove a restarting container "+ad+". Stop the container before attempting removal or force remove")
	if err := e.b.ContainerStart(ctx, "always"); !errdefs.IsNotModified(err) {
		t.Fatalf("start restarting: %v", err)
	}
	if err := e.b.ContainerStop(ctx, "always", nil, ""); err != nil {
		t.Fatal(err)
	}
	if e.b.isRestarting(ad) || e.inspect("always").State.Status != "exited" {
		t.Fatal("stop did not cancel the restart")
	}

	// A running always container stopped by the user stays down...
	e.b.delayFn = func(_, _ time.Duration) time.Duration { return 0 }
	sd := e.create("sleeper", container.Config{Cmd: []string{"sleep"}}, always)
	e.start("sleeper")
	if err := e.b.ContainerStop(ctx, "sleeper", nil, ""); err != nil {
		t.Fatal(err)
	}
	us := e.create("unless", container.Config{Cmd: []string{"sleep"}}, &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "unless-stopped"}})
	e.start("unless")
	if err := e.b.ContainerStop(ctx, "unless", nil, ""); err != nil {
		t.Fatal(err)
	}
	if ins := e.inspect("sleeper"); ins.State.Running || ins.RestartCount != 0 {
		t.Fatalf("stopped always container restarted: %+v", ins.State)
	}
	// ...until vchd restarts: always comes back, unless-stopped does not.
	e.restart()
	eventually(t, "always container started after New", func() bool {
		st := e.inspect(sd).State
		return st.Status == "running" && !st.Restarting
	})
	if e.inspect(us).State.Running {
		t.Fatal("unless-stopped container started by New after a user stop")
	}
	_, err = e.b.ContainerCreate(ctx, containerrouter.CreateConfig{Config: &container.Config{Image: "busybox"}, HostConfig: &container.HostConfig{AutoRemove: true, RestartPolicy: container.RestartPolicy{Name: "always"}}})
	wantErr(t, err, errdefs.IsInvalidParameter, "can't create 'AutoRemove' container with restart policy")
}

// blockingStart is the fake provider whose Start waits for release: a
// container VM that takes long to boot.
type blockingStart struct {
	*fake.Provider
	release chan struct{}
}

func (b blockingStart) Start(ctx context.Context, id string) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.Provider.Start(ctx, id)
}

// After a vchd restart, New returns (so the API can listen) before the
// containers that exited meanwhile are started by their restart policy:
// they show as restarting, then run; the start is not counted; a
// container without a policy stays exited.
func TestRestartPolicyAfterVCHDRestartRunsInBackground(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := map[string]string{}
	for _, policy := range []string{"always", "unless-stopped", "on-failure", "no"} {
		ids[policy] = e.create(policy, container.Config{Cmd: []string{"sleep"}}, &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(policy)}})
		e.start(policy)
	}
	// vchd dies; the VMs die while nobody watches.
	e.b.Close()
	for _, id := range ids {
		if err := e.pl.Kill(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	bs := blockingStart{Provider: e.pl, release: make(chan struct{})}
	b, err := New(ctx, Config{Compute: bs, Images: e.images, Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	e.b = b
	for _, policy := range []string{"always", "unless-stopped", "on-failure"} {
		if st := e.inspect(ids[policy]).State; st.Status != "restarting" {
			t.Fatalf("%s container while its start is pending: %+v", policy, st)
		}
	}
	close(bs.release)
	for _, policy := range []string{"always", "unless-stopped", "on-failure"} {
		eventually(t, policy+" container running", func() bool {
			st := e.inspect(ids[policy]).State
			return st.Status == "running" && !st.Restarting
		})
		if n := e.inspect(ids[policy]).RestartCount; n != 0 {
			t.Fatalf("%s: RestartCount %d after a vchd restart", policy, n)
		}
	}
	if st := e.inspect(ids["no"]).State; st.Status != "exited" || st.ExitCode != 137 {
		t.Fatalf("no-policy container: %+v", st)
	}
}

// TestReadAroundRestarts: a read that a whole restart (mark, new count,
// start, clear) happened during is done again; a read during which a mark
// was only set or only cleared shows the container restarting.
func TestReadAroundRestarts(t *testing.T) {
	b := &Backend{restarting: map[string]*pendingRestart{}, restartMarks: map[string]uint64{}}
	reads := 0
	restarting, err := b.readAroundRestarts(func() error {
		reads++
		if reads == 1 {
			b.clearRestarting("c1", b.setRestarting("c1"))
		}
		return nil
	})
	if err != nil || reads != 2 || restarting("c1") {
		t.Fatalf("straddled restart: reads %d, restarting %v, %v", reads, restarting("c1"), err)
	}
	reads = 0
	var p *pendingRestart
	restarting, _ = b.readAroundRestarts(func() error {
		reads++
		p = b.setRestarting("c1")
		return nil
	})
	if reads != 1 || !restarting("c1") || restarting("c2") {
		t.Fatalf("mark set during the read: reads %d, restarting %v", reads, restarting("c1"))
	}
	restarting, _ = b.readAroundRestarts(func() error {
		b.clearRestarting("c1", p)
		return nil
	})
	if !restarting("c1") {
		t.Fatal("mark cleared during the read: not restarting")
	}
}
