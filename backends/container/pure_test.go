package container

import (
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

func TestMergeConfig(t *testing.T) {
	img := dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
		User: "img", Env: []string{"PATH=/img/bin", "A=img", "B=img"},
		Entrypoint: []string{"/entry"}, Cmd: []string{"img-cmd", "arg"},
		WorkingDir: "/img", Labels: map[string]string{"l": "img", "m": "img"},
		StopSignal: "SIGQUIT", ExposedPorts: map[string]struct{}{"80/tcp": {}},
		Volumes: map[string]struct{}{"/data": {}},
	}}
	for _, tc := range []struct {
		name                    string
		user                    container.Config
		entrypoint, cmd, env    string
		user2, wd, stop, labels string
		err                     string
	}{
		{name: "image defaults", entrypoint: "/entry", cmd: "img-cmd arg", env: "PATH=/img/bin A=img B=img", user2: "img", wd: "/img", stop: "SIGQUIT", labels: "l=img m=img"},
		{name: "cmd given keeps image entrypoint", user: container.Config{Cmd: []string{"mine"}}, entrypoint: "/entry", cmd: "mine", env: "PATH=/img/bin A=img B=img", user2: "img", wd: "/img", stop: "SIGQUIT", labels: "l=img m=img"},
		{name: "entrypoint given drops image cmd", user: container.Config{Entrypoint: []string{"/mine"}}, entrypoint: "/mine", cmd: "", env: "PATH=/img/bin A=img B=img", user2: "img", wd: "/img", stop: "SIGQUIT", labels: "l=img m=img"},
		{name: "entrypoint and cmd given", user: container.Config{Entrypoint: []string{"/mine"}, Cmd: []string{"x"}}, entrypoint: "/mine", cmd: "x", env: "PATH=/img/bin A=img B=img", user2: "img", wd: "/img", stop: "SIGQUIT", labels: "l=img m=img"},
		{name: "empty entrypoint alone: no command (docker's merge)", user: container.Config{Entrypoint: []string{""}}, err: "no command specified"},
		{name: "empty entrypoint with cmd", user: container.Config{Entrypoint: []string{""}, Cmd: []string{"ls"}}, entrypoint: "", cmd: "ls", env: "PATH=/img/bin A=img B=img", user2: "img", wd: "/img", stop: "SIGQUIT", labels: "l=img m=img"},
		{name: "user values win", user: container.Config{User: "me", Env: []string{"A=me", "C=me"}, WorkingDir: "/w/../work", StopSignal: "SIGINT", Labels: map[string]string{"l": "me"}}, entrypoint: "/entry", cmd: "img-cmd arg", env: "A=me C=me PATH=/img/bin B=img", user2: "me", wd: "/work", stop: "SIGINT", labels: "l=me m=img"},
		{name: "relative workdir", user: container.Config{WorkingDir: "rel"}, err: "the working directory 'rel' is invalid, it needs to be an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user
			got, err := mergeConfig(&u, img)
			if tc.err != "" {
				if !errdefs.IsInvalidParameter(err) || err.Error() != tc.err {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var labels []string
			for _, k := range []string{"l", "m"} {
				labels = append(labels, k+"="+got.Labels[k])
			}
			for what, pair := range map[string][2]string{
				"entrypoint": {strings.Join(got.Entrypoint, " "), tc.entrypoint},
				"cmd":        {strings.Join(got.Cmd, " "), tc.cmd},
				"env":        {strings.Join(got.Env, " "), tc.env},
				"user":       {got.User, tc.user2},
				"workdir":    {got.WorkingDir, tc.wd},
				"stop":       {got.StopSignal, tc.stop},
				"labels":     {strings.Join(labels, " "), tc.labels},
			} {
				if pair[0] != pair[1] {
					t.Errorf("%s = %q, want %q", what, pair[0], pair[1])
				}
			}
			if _, ok := got.ExposedPorts[nat.Port("80/tcp")]; !ok {
				t.Errorf("exposed ports %v", got.ExposedPorts)
			}
			if _, ok := got.Volumes["/data"]; !ok {
				t.Errorf("volumes %v", got.Volumes)
			}
		})
	}
	t.Run("no command", func(t *testing.T) {
		_, err := mergeConfig(&container.Config{}, dockerspec.DockerOCIImageConfig{})
		if !errdefs.IsInvalidParameter(err) || err.Error() != "no command specified" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestEntrypointArgsAndEnv(t *testing.T) {
	p, a := entrypointAndArgs([]string{"/e", "-x"}, []string{"c", "d"})
	if p != "/e" || strings.Join(a, " ") != "-x c d" {
		t.Fatalf("%s %v", p, a)
	}
	p, a = entrypointAndArgs(nil, []string{"sh"})
	if p != "sh" || a == nil || len(a) != 0 {
		t.Fatalf("%s %#v", p, a)
	}
	env := processEnv(&container.Config{Hostname: "h", Tty: true, Env: []string{"PATH=/mine", "X=1"}}, nil)
	if got := strings.Join(env, " "); got != "PATH=/mine HOSTNAME=h TERM=xterm X=1" {
		t.Fatalf("env %q", got)
	}
}

func TestDeriveStateAndStatus(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(2 * time.Minute)
	failed := &StartError{Message: "exec: boom", ExitCode: 127, At: t0}
	for _, tc := range []struct {
		name       string
		st         compute.Status
		m          Meta
		state      string
		code       int
		status     string
		restarting bool
	}{
		{"created", compute.Status{State: compute.StateCreated}, Meta{}, "created", 0, "Created", false},
		{"running", compute.Status{State: compute.StateRunning, StartedAt: t0.Add(117 * time.Second)}, Meta{Started: true}, "running", 0, "Up 3 seconds", false},
		{"running long", compute.Status{State: compute.StateRunning, StartedAt: t0.Add(-3 * time.Hour)}, Meta{Started: true}, "running", 0, "Up 3 hours", false},
		{"exited", compute.Status{State: compute.StateExited, StartedAt: t0, FinishedAt: t0, ExitCode: 3}, Meta{Started: true}, "exited", 3, "Exited (3) 2 minutes ago", false},
		{"start failed, never ran", compute.Status{State: compute.StateCreated}, Meta{StartError: failed}, "created", 127, "Created", false},
		{"provider says exited but never started by us", compute.Status{State: compute.StateExited, StartedAt: t0, FinishedAt: t0, ExitCode: 1}, Meta{StartError: failed}, "created", 127, "Created", false},
		{"failed start after a run", compute.Status{State: compute.StateExited, StartedAt: t0.Add(-time.Hour), FinishedAt: t0.Add(-time.Minute), ExitCode: 0}, Meta{Started: true, StartError: failed}, "exited", 127, "Exited (127) 3 minutes ago", false},
		{"restarting", compute.Status{State: compute.StateExited, StartedAt: t0, FinishedAt: t0.Add(time.Minute), ExitCode: 2}, Meta{Started: true}, "restarting", 2, "Restarting (2) About a minute ago", true},
		{"run after an old failure", compute.Status{State: compute.StateExited, StartedAt: t0, FinishedAt: t0.Add(time.Second), ExitCode: 0}, Meta{Started: true, StartError: failed}, "exited", 0, "Exited (0) About a minute ago", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			d := deriveState(tc.st, &m, tc.restarting)
			if d.Status != tc.state || d.ExitCode != tc.code {
				t.Fatalf("state %s code %d, want %s %d", d.Status, d.ExitCode, tc.state, tc.code)
			}
			if got := statusText(d, now); got != tc.status {
				t.Fatalf("status %q, want %q", got, tc.status)
			}
		})
	}
	if timeText(time.Time{}) != "0001-01-01T00:00:00Z" || timeText(t0.Add(5)) != "2024-01-01T00:00:00.000000005Z" {
		t.Fatal("timeText")
	}
}

// TestStopMachine walks the stop sequence through every branch.
func TestStopMachine(t *testing.T) {
	type step struct {
		obs  stopObservation
		want stopAction
	}
	sig := syscall.SIGTERM
	fail := errors.New("x")
	for _, tc := range []struct {
		name    string
		timeout int
		steps   []step
	}{
		{"exits on stop signal", 10, []step{
			{stopObservation{}, stopAction{Kind: actSignal, Signal: sig}},
			{stopObservation{}, stopAction{Kind: actWait, Wait: 10 * time.Second}},
			{stopObservation{Stopped: true}, stopAction{Kind: actDone}},
		}},
		{"needs SIGKILL", 3, []step{
			{stopObservation{}, stopAction{Kind: actSignal, Signal: sig}},
			{stopObservation{}, stopAction{Kind: actWait, Wait: 3 * time.Second}},
			{stopObservation{}, stopAction{Kind: actSignal, Signal: syscall.SIGKILL}},
			{stopObservation{}, stopAction{Kind: actWait, Wait: killWait}},
			{stopObservation{Stopped: true}, stopAction{Kind: actDone}},
		}},
		{"needs power-off", 0, []step{
			{stopObservation{}, stopAction{Kind: actSignal, Signal: sig}},
			{stopObservation{}, stopAction{Kind: actWait, Wait: 0}},
			{stopObservation{}, stopAction{Kind: actSignal, Signal: syscall.SIGKILL}},
			{stopObservation{Err: fail}, stopAction{Kind: actWait, Wait: killWait}},
			{stopObservation{}, stopAction{Kind: actPowerOff}},
			{stopObservation{}, stopAction{Kind: actWait, Wait: powerOffWait}},
			{stopObservation{Stopped: true}, stopAction{Kind: actDone}},
		}},
		{"survives everything", 0, []step{
			{stopObservation{}, stopAction{Kind: actSignal, Signal: sig}},
			{stopObservation{}, stopAction{Kind: actWait}},
			{stopObservation{}, stopAction{Kind: actSignal, Signal: syscall.SIGKILL}},
			{stopObservation{}, stopAction{Kind: actWait, Wait: killWait}},
			{stopObservation{}, stopAction{Kind: actPowerOff}},
			{stopObservation{}, stopAction{Kind: actWait, Wait: powerOffWait}},
			{stopObservation{}, stopAction{Kind: actFail, Err: errStopTimeout}},
		}},
		{"signal failed waits 2s", 30, []step{
			{stopObservation{}, stopAction{Kind: actSignal, Signal: sig}},
			{stopObservation{Err: fail}, stopAction{Kind: actWait, Wait: signalFailedWait}},
			{stopObservation{Stopped: true}, stopAction{Kind: actDone}},
		}},
		{"forever", -1, []step{
			{stopObservation{}, stopAction{Kind: actSignal, Signal: sig}},
			{stopObservation{}, stopAction{Kind: actWait, Forever: true}},
			{stopObservation{Stopped: true}, stopAction{Kind: actDone}},
		}},
		{"forever interrupted", -1, []step{
			{stopObservation{}, stopAction{Kind: actSignal, Signal: sig}},
			{stopObservation{}, stopAction{Kind: actWait, Forever: true}},
			{stopObservation{Err: fail}, stopAction{Kind: actFail, Err: fail}},
		}},
		{"forever but signal failed falls back to kill", -1, []step{
			{stopObservation{}, stopAction{Kind: actSignal, Signal: sig}},
			{stopObservation{Err: fail}, stopAction{Kind: actWait, Wait: signalFailedWait}},
			{stopObservation{}, stopAction{Kind: actSignal, Signal: syscall.SIGKILL}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &stopMachine{Signal: sig, Timeout: tc.timeout}
			for i, s := range tc.steps {
				got := m.next(s.obs)
				if got.Kind != s.want.Kind || got.Signal != s.want.Signal || got.Wait != s.want.Wait || got.Forever != s.want.Forever || !errors.Is(got.Err, s.want.Err) {
					t.Fatalf("step %d: got %+v, want %+v", i, got, s.want)
				}
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"SIGTERM": 15, "term": 15, "KILL": 9, "9": 9, "SIGUSR1": 10, "sigquit": 3} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "NOPE", "-3", "65"} {
		if _, err := parseSignal(in); !errdefs.IsInvalidParameter(err) || err.Error() != "Invalid signal: "+in {
			t.Errorf("parseSignal(%q) error %v", in, err)
		}
	}
}

func TestStartFailure(t *testing.T) {
	for _, tc := range []struct {
		err   error
		code  int
		class func(error) bool
	}{
		{errors.New(`exec: "foo": executable file not found in $PATH`), 127, errdefs.IsInvalidParameter},
		{errors.New(`exec: "/x": no such file or directory`), 127, errdefs.IsInvalidParameter},
		{errors.New(`exec: "/etc/passwd": permission denied`), 126, errdefs.IsInvalidParameter},
		{errdefs.Unavailable("qemu exited during boot"), 128, errdefs.IsUnavailable},
		{errors.New("boom"), 128, func(err error) bool { return !errdefs.IsInvalidParameter(err) }},
	} {
		code, classed := startFailure(tc.err)
		if code != tc.code || !tc.class(classed) || !strings.HasPrefix(classed.Error(), tc.err.Error()) {
			t.Errorf("%v: code %d class %v", tc.err, code, classed)
		}
	}
}

func TestDetachKeys(t *testing.T) {
	keys, err := parseDetachKeys("ctrl-x,a")
	if err != nil || string(keys) != "\x18a" {
		t.Fatalf("%q %v", keys, err)
	}
	if _, err := parseDetachKeys("ctrl-1"); err == nil {
		t.Fatal("ctrl-1 accepted")
	}
	released := make(chan struct{})
	close(released) // the attach is over: finished sessions fail at once
	for _, tc := range []struct {
		in, out    string
		closeOnEOF bool
		ended      bool
		err        error
	}{
		{in: "hello", out: "hello", closeOnEOF: true, err: nil},
		// EOF without StdinOnce holds stdin open until the attach is over,
		// and does not end the output stream.
		{in: "hello", out: "hello", ended: false, err: errSessionEnded},
		{in: "ab\x10c\x10\x11tail", out: "ab\x10c", closeOnEOF: true, ended: true, err: errSessionEnded},
		{in: "\x10\x10\x11", out: "\x10", ended: true, err: errSessionEnded},
	} {
		ends := 0
		d := &detachReader{r: strings.NewReader(tc.in), keys: defaultDetachKeys, closeOnEOF: tc.closeOnEOF, end: func() { ends++ }, released: released}
		got, err := io.ReadAll(d)
		if !errors.Is(err, tc.err) || string(got) != tc.out {
			t.Errorf("%q: read %q, %v", tc.in, got, err)
		}
		if d.sessionEnded() != tc.ended || (ends == 1) != tc.ended || d.detached() != strings.Contains(tc.in, "\x10\x11") {
			t.Errorf("%q: ended %v (end called %d times), detached %v", tc.in, d.sessionEnded(), ends, d.detached())
		}
	}
}

func TestLogTimestamps(t *testing.T) {
	at := time.Date(2024, 1, 1, 0, 0, 0, 5, time.UTC)
	l := &logWriter{timestamps: true, atStart: map[string]bool{"stdout": true, "stderr": true}}
	var out []string
	for _, e := range []compute.LogEntry{
		{Stream: "stdout", Time: at, Data: []byte("a\nb")},
		{Stream: "stderr", Time: at, Data: []byte("e\n")},
		{Stream: "stdout", Time: at, Data: []byte("c\nd\n")},
	} {
		out = append(out, string(l.format(e)))
	}
	ts := "2024-01-01T00:00:00.000000005Z "
	want := []string{ts + "a\n" + ts + "b", ts + "e\n", "c\n" + ts + "d\n"}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("entry %d = %q, want %q", i, out[i], want[i])
		}
	}
}

func TestConsoleSize(t *testing.T) {
	for _, c := range []struct {
		tty  bool
		in   [2]uint
		want [2]uint16
	}{
		{true, [2]uint{30, 100}, [2]uint16{30, 100}},
		{false, [2]uint{30, 100}, [2]uint16{}},
		{true, [2]uint{0, 100}, [2]uint16{}},
		{true, [2]uint{1 << 16, 100}, [2]uint16{}},
	} {
		if got := consoleSize(c.tty, c.in); got != c.want {
			t.Errorf("consoleSize(%v, %v) = %v, want %v", c.tty, c.in, got, c.want)
		}
	}
}

func TestVMName(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ conv, name, want string }{
		{"", "/web", ""},
		{"myteam-{name}", "/web", "myteam-web"},
		{"{id}", "/web", "0123456789ab"},
		{"ci.{name}-{id}", "web", "ci.web-0123456789ab"},
	} {
		if got := vmName(tc.conv, tc.name, id); got != tc.want {
			t.Errorf("vmName(%q, %q) = %q, want %q", tc.conv, tc.name, got, tc.want)
		}
	}
}
