package tether_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/proto"
)

var lifecycle = []string{proto.EventTether, proto.EventMounted, proto.EventStarted, proto.EventExited, proto.EventSize, proto.EventPowerOff}

func TestBootOutputAndExitCode(t *testing.T) {
	v := newVM(t, "sh", "-c", "echo out; echo err >&2; exit 3")
	v.start(t)
	l := v.wait(t)
	if l.stdout != "out\n" || l.stderr != "err\n" {
		t.Fatalf("stdout %q stderr %q\nconsole:\n%s", l.stdout, l.stderr, v.consoleText())
	}
	if !reflect.DeepEqual(l.names(), lifecycle) {
		t.Fatalf("events %v, want %v\nconsole:\n%s", l.events, lifecycle, v.consoleText())
	}
	if ev, _, _ := l.event(proto.EventStarted); ev.Pid <= 1 {
		t.Errorf("started event pid %d", ev.Pid)
	}
	if ev, _, _ := l.event(proto.EventExited); ev.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", ev.ExitCode)
	}
}

func TestBootEtcUserAndPersistence(t *testing.T) {
	v := newVM(t, "sh", "-c", `cat /etc/hostname; hostname; cat /etc/resolv.conf; cat /etc/hosts; id; pwd; echo "HOME=$HOME"; echo "clock=$(date +%s)"; echo kept > /root/file`)
	v.cfg.Process.WorkingDir = "/work/dir"
	v.start(t)
	l := v.wait(t)
	for _, want := range []string{
		"c1\nc1\n",
		"nameserver 10.0.0.1\n",
		"127.0.0.1\tlocalhost\n",
		"10.9.8.7\tregistry.test\n",
		"127.0.1.1\tc1\n",
		"uid=0(root) gid=0(root)",
		"/work/dir\n",
		"HOME=/root\n",
	} {
		if !strings.Contains(l.stdout, want) {
			t.Errorf("output lacks %q:\n%s\nstderr:\n%s", want, l.stdout, l.stderr)
		}
	}
	if ev, _, _ := l.event(proto.EventExited); ev.ExitCode != 0 {
		t.Fatalf("run 1 exit %d: %s", ev.ExitCode, l.stderr)
	}
	// The guest clock came from Config.LaunchTime: it must be today's date,
	// not the RTC's or 1970 (a generous window: TCG boots take seconds).
	var clock int64
	for _, line := range strings.Split(l.stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "clock="); ok {
			clock, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if d := time.Since(time.Unix(clock, 0)); d < -time.Minute || d > 5*time.Minute {
		t.Errorf("guest clock %d is %v away from the host's", clock, d)
	}

	// The tether unmounted the rw disk cleanly.
	if out, err := exec.Command("e2fsck", "-fn", v.rw).CombinedOutput(); err != nil {
		t.Fatalf("rw disk not clean after power off: %v\n%s", err, out)
	}

	// Run 2 on the same rw disk, as another user: the file is still there.
	// An orphan (re-parented to the tether) must be reaped: no zombies.
	v.cfg.Process = proto.Process{Args: []string{"sh", "-c",
		`cat /root/file; id; echo HOME=$HOME; (sleep 0 &); sleep 1; echo "zombies=$(cat /proc/[0-9]*/stat | grep -c ') Z ')"`},
		User: "app:video"}
	v.start(t)
	l = v.wait(t)
	for _, want := range []string{"kept\n", "uid=1000(app) gid=44(video) groups=44(video)", "HOME=/home/app\n", "zombies=0\n"} {
		if !strings.Contains(l.stdout, want) {
			t.Errorf("run 2 output lacks %q:\n%s\nstderr:\n%s", want, l.stdout, l.stderr)
		}
	}
}

func TestBootCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		user string
		code int
		msg  string
	}{
		{"not found", []string{"foo"}, "", 127, `exec: "foo": executable file not found in $PATH`},
		{"not executable", []string{"/noexec"}, "", 126, "permission denied"},
		{"unknown user", []string{"true"}, "nobody", 128, "unable to find user nobody"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVM(t, tc.args...)
			v.cfg.Process.User = tc.user
			v.start(t)
			l := v.wait(t)
			want := []string{proto.EventTether, proto.EventMounted, proto.EventError, proto.EventSize, proto.EventPowerOff}
			if !reflect.DeepEqual(l.names(), want) {
				t.Fatalf("events %v, want %v", l.events, want)
			}
			ev, _, _ := l.event(proto.EventError)
			if ev.ExitCode != tc.code || !strings.Contains(ev.Error, tc.msg) {
				t.Fatalf("error event %+v, want code %d and %q", ev, tc.code, tc.msg)
			}
		})
	}
}

func TestBootControlChannel(t *testing.T) {
	v := newVM(t, "sleep", "1000")
	v.start(t)

	// First host session: wait for the process, then go away.
	c := v.dialControl(t)
	st := v.waitRunning(t, c)
	if st.Pid <= 1 {
		t.Fatalf("state %+v", st)
	}
	if ok, reply := request(t, c, proto.ReqResize, proto.ResizeRequest{Rows: 30, Cols: 100}); ok {
		t.Errorf("resize without a tty accepted: %s", reply)
	}
	if ok, reply := request(t, c, proto.ReqTime, proto.TimeRequest{UnixNano: time.Now().UnixNano()}); !ok {
		t.Errorf("time refused: %s", reply)
	}
	c.Close()

	// Second session on a new connection: the tether started over.
	c = v.dialControl(t)
	if st2 := v.waitRunning(t, c); st2.Pid != st.Pid {
		t.Fatalf("pid changed across sessions: %+v then %+v", st, st2)
	}
	if ok, reply := request(t, c, proto.ReqSignal, proto.SignalRequest{Signal: int(syscall.SIGTERM)}); !ok {
		t.Fatalf("signal refused: %s", reply)
	}
	l := v.wait(t)
	if ev, _, _ := l.event(proto.EventExited); ev.ExitCode != 143 {
		t.Fatalf("exit %+v, want 143; events %v", ev, l.events)
	}
	if !reflect.DeepEqual(l.names(), lifecycle) {
		t.Fatalf("events %v", l.events)
	}
}

func TestBootSIGKILL(t *testing.T) {
	// The shell ignores SIGTERM; only SIGKILL ends it.
	v := newVM(t, "sh", "-c", `trap "" TERM; echo ready; while true; do sleep 1; done`)
	v.start(t)
	c := v.dialControl(t)
	v.waitRunning(t, c)
	// Running is not enough: the shell must have installed its trap.
	v.waitOutput(t, "ready\n")
	if ok, reply := request(t, c, proto.ReqSignal, proto.SignalRequest{Signal: int(syscall.SIGTERM)}); !ok {
		t.Fatalf("SIGTERM refused: %s", reply)
	}
	if st := v.waitRunning(t, c); st.Exited {
		t.Fatalf("SIGTERM ended a process that ignores it: %+v", st)
	}
	if ok, reply := request(t, c, proto.ReqSignal, proto.SignalRequest{Signal: int(syscall.SIGKILL)}); !ok {
		t.Fatalf("SIGKILL refused: %s", reply)
	}
	l := v.wait(t)
	if ev, _, _ := l.event(proto.EventExited); ev.ExitCode != 137 {
		t.Fatalf("exit %+v, want 137; events %v", ev, l.events)
	}
}

// waitRunning asks for the state until the process runs (the host may
// connect before the tether has started it), for vmBound at most.
func (v *vm) waitRunning(t *testing.T, c *ssh.Client) proto.StateReply {
	t.Helper()
	// A guest that stops answering would block SendRequest: closing the
	// client after the bound makes it return an error.
	deadline := time.Now().Add(vmBound)
	watchdog := time.AfterFunc(vmBound, func() { c.Close() })
	defer watchdog.Stop()
	for {
		ok, reply, err := c.SendRequest(proto.ReqState, true, nil)
		if err != nil {
			if time.Now().After(deadline) {
				v.fatalHung(t, "waiting for the process to run: state request: %v", err)
			}
			t.Fatalf("state request: %v\nconsole:\n%s", err, v.consoleText())
		}
		if !ok {
			t.Fatalf("state refused: %s", reply)
		}
		var st proto.StateReply
		if err := json.Unmarshal(reply, &st); err != nil {
			t.Fatal(err)
		}
		if st.Exited {
			t.Fatalf("process exited: %+v", st)
		}
		if st.Running {
			return st
		}
		if time.Now().After(deadline) {
			v.fatalHung(t, "waiting for the process to run: last state %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBootStdinAndTTY(t *testing.T) {
	t.Run("pipe", func(t *testing.T) {
		v := newVM(t, "sh", "-c", "cat; echo done")
		v.cfg.Process.OpenStdin = true
		v.start(t)
		c := v.dialControl(t)
		writeStdin(t, c, "hello\n", true)
		l := v.wait(t)
		if l.stdout != "hello\ndone\n" {
			t.Fatalf("stdout %q stderr %q", l.stdout, l.stderr)
		}
	})
	t.Run("tty", func(t *testing.T) {
		v := newVM(t, "sh", "-c", `tty; echo "TERM=$TERM"; read line; echo "got $line"; stty size; exit 5`)
		v.cfg.Process.OpenStdin = true
		v.cfg.Process.Tty = true
		v.start(t)
		c := v.dialControl(t)
		// Possibly before the process started: the size is kept for its pty.
		if ok, reply := request(t, c, proto.ReqResize, proto.ResizeRequest{Rows: 30, Cols: 100}); !ok {
			t.Fatalf("resize: %s", reply)
		}
		writeStdin(t, c, "abc\n", false)
		l := v.wait(t)
		for _, want := range []string{"/dev/pts/0\r\n", "TERM=xterm\r\n", "got abc\r\n", "30 100\r\n"} {
			if !strings.Contains(l.stdout, want) {
				t.Errorf("tty output lacks %q: %q", want, l.stdout)
			}
		}
		if l.stderr != "" {
			t.Errorf("tty stderr %q", l.stderr)
		}
		if ev, _, _ := l.event(proto.EventExited); ev.ExitCode != 5 {
			t.Errorf("exit %+v", ev)
		}
	})
}

func writeStdin(t *testing.T, c *ssh.Client, data string, eof bool) {
	t.Helper()
	ch, reqs, err := c.OpenChannel(proto.ChanStdin, nil)
	if err != nil {
		t.Fatalf("stdin channel: %v", err)
	}
	go ssh.DiscardRequests(reqs)
	if _, err := io.WriteString(ch, data); err != nil {
		t.Fatal(err)
	}
	if eof {
		// The EOF is announced first; a bare one is a lost host.
		if ok, err := ch.SendRequest(proto.ReqStdinEOF, true, nil); err != nil || !ok {
			t.Fatalf("stdin EOF request: %v %v", ok, err)
		}
		ch.CloseWrite()
	}
}
