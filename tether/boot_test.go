package tether_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/proto"
)

var lifecycle = []string{proto.EventTether, proto.EventMounted, proto.EventStarted, proto.EventExited, proto.EventPowerOff}

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
	v := newVM(t, "sh", "-c", `cat /etc/hostname; hostname; cat /etc/resolv.conf; cat /etc/hosts; id; pwd; echo "HOME=$HOME"; echo kept > /root/file`)
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

	// The tether unmounted the rw disk cleanly.
	if out, err := exec.Command("e2fsck", "-fn", v.rw).CombinedOutput(); err != nil {
		t.Fatalf("rw disk not clean after power off: %v\n%s", err, out)
	}

	// Run 2 on the same rw disk, as another user: the file is still there.
	v.cfg.Process = proto.Process{Args: []string{"sh", "-c", "cat /root/file; id; echo HOME=$HOME"}, User: "app:video"}
	v.start(t)
	l = v.wait(t)
	for _, want := range []string{"kept\n", "uid=1000(app) gid=44(video) groups=44(video)", "HOME=/home/app\n"} {
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
			want := []string{proto.EventTether, proto.EventMounted, proto.EventError, proto.EventPowerOff}
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
	c := v.dialControl(t)
	var st proto.StateReply
	for !st.Running {
		// The host may connect before the process has started.
		ok, reply := request(t, c, proto.ReqState, nil)
		if !ok {
			t.Fatalf("state refused: %s", reply)
		}
		if err := json.Unmarshal(reply, &st); err != nil {
			t.Fatal(err)
		}
		if st.Exited {
			t.Fatalf("sleep exited: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Pid <= 1 {
		t.Fatalf("state %+v", st)
	}
	if ok, reply := request(t, c, proto.ReqResize, proto.ResizeRequest{Rows: 30, Cols: 100}); ok {
		t.Errorf("resize without a tty accepted: %s", reply)
	}
	if ok, reply := request(t, c, proto.ReqTime, proto.TimeRequest{UnixNano: time.Now().UnixNano()}); !ok {
		t.Errorf("time refused: %s", reply)
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
		ch.CloseWrite()
	}
}
