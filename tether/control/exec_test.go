package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/control/controltest"
	"github.com/vchproject/vch/tether/execspec"
	"github.com/vchproject/vch/tether/proto"
)

// fakeExecer runs "processes" as goroutines over pipes: "cat" copies stdin
// to stdout and "ERR:" lines to stderr, then exits with the code set by a
// signal (128+sig) or 0 on EOF; "big" writes Size bytes and exits 7;
// anything else does not start.
type fakeExecer struct {
	mu    sync.Mutex
	specs []proto.ExecSpec
	procs []*fakeExec
	size  int
}

func (f *fakeExecer) Exec(spec proto.ExecSpec) (ExecProcess, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specs = append(f.specs, spec)
	if len(spec.Args) == 0 || (spec.Args[0] != "cat" && spec.Args[0] != "big") {
		return nil, &execspec.Error{Msg: "exec: \"nope\": executable file not found in $PATH", ExitCode: execspec.ExitNotFound}
	}
	p := &fakeExec{sig: make(chan int, 1), done: make(chan struct{})}
	var outW, errW *io.PipeWriter
	p.outR, outW = io.Pipe()
	p.errR, errW = io.Pipe()
	var inR *io.PipeReader
	inR, p.inW = io.Pipe()
	f.procs = append(f.procs, p)
	go func() {
		defer close(p.done)
		defer outW.Close()
		defer errW.Close()
		if spec.Args[0] == "big" {
			buf := bytes.Repeat([]byte("0123456789abcdef"), 4096)
			for n := f.size; n > 0; n -= len(buf) {
				if n < len(buf) {
					buf = buf[:n]
				}
				outW.Write(buf)
			}
			p.code = 7
			return
		}
		lines := make(chan []byte)
		go func() {
			defer close(lines)
			b := make([]byte, 4096)
			for {
				n, err := inR.Read(b)
				if n > 0 {
					lines <- append([]byte(nil), b[:n]...)
				}
				if err != nil {
					return
				}
			}
		}()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return
				}
				if bytes.HasPrefix(l, []byte("ERR:")) {
					errW.Write(l[4:])
				} else {
					outW.Write(l)
				}
			case s := <-p.sig:
				p.code = 128 + s
				inR.Close()
				return
			}
		}
	}()
	return p, nil
}

type fakeExec struct {
	outR, errR *io.PipeReader
	inW        *io.PipeWriter
	sig        chan int
	done       chan struct{}
	code       int
	mu         sync.Mutex
	size       [2]uint16
}

func (p *fakeExec) Pid() int              { return 77 }
func (p *fakeExec) Stdin() io.WriteCloser { return p.inW }
func (p *fakeExec) Stdout() io.Reader     { return p.outR }
func (p *fakeExec) Stderr() io.Reader     { return p.errR }
func (p *fakeExec) Resize(r, c uint16) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.size = [2]uint16{r, c}
	return nil
}
func (p *fakeExec) Signal(sig int) error {
	select {
	case p.sig <- sig:
		return nil
	default:
		return errors.New("busy")
	}
}
func (p *fakeExec) Wait() int    { <-p.done; return p.code }
func (p *fakeExec) Close() error { return nil }

// lockedBuffer is a bytes.Buffer for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Bytes() []byte { return []byte(l.String()) }
func (l *lockedBuffer) Len() int      { return len(l.String()) }

// execSession is the host's view of one exec channel.
type execSession struct {
	ch              ssh.Channel
	started         chan proto.ExecStarted
	exit            chan proto.ExecExit
	stdout, stderr  lockedBuffer
	outDone, errDon chan struct{}
}

func openExec(t *testing.T, client *ssh.Client, spec proto.ExecSpec) *execSession {
	t.Helper()
	b, _ := json.Marshal(spec)
	ch, reqs, err := client.OpenChannel(proto.ChanExec, b)
	if err != nil {
		t.Fatal(err)
	}
	s := &execSession{ch: ch, started: make(chan proto.ExecStarted, 1), exit: make(chan proto.ExecExit, 1),
		outDone: make(chan struct{}), errDon: make(chan struct{})}
	go func() {
		for r := range reqs {
			switch r.Type {
			case proto.ReqExecStarted:
				var st proto.ExecStarted
				json.Unmarshal(r.Payload, &st)
				s.started <- st
			case proto.ReqExecExit:
				var ex proto.ExecExit
				json.Unmarshal(r.Payload, &ex)
				s.exit <- ex
			}
		}
	}()
	go func() { io.Copy(&s.stdout, ch); close(s.outDone) }()
	go func() { io.Copy(&s.stderr, ch.Stderr()); close(s.errDon) }()
	return s
}

// finish waits for the exit status and the end of both streams.
func (s *execSession) finish(t *testing.T) proto.ExecExit {
	t.Helper()
	ex := recv(t, s.exit, "exec exit status")
	recv(t, s.outDone, "end of the exec's stdout")
	recv(t, s.errDon, "end of the exec's stderr")
	return ex
}

func TestExecChannel(t *testing.T) {
	pemKey, pub := controltest.HostKey(t)
	execer := &fakeExecer{size: 5_000_000 + 13}
	// A nop logger: the server's goroutines may log after the test ends.
	srv, err := NewServer(pemKey, &fakeProc{}, func(int64) error { return nil }, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	srv.Exec = execer
	srv.Top = func(args []string) (proto.TopReply, error) {
		if len(args) > 0 && args[0] == "bad" {
			return proto.TopReply{}, errors.New("ps: unsupported option")
		}
		return proto.TopReply{Titles: append([]string{"PID"}, args...), Processes: [][]string{{"7"}}}, nil
	}
	srv.Stats = func() (proto.StatsReply, error) {
		return proto.StatsReply{CPUTotal: 5, CPUAll: 10, CPUs: 1, MemTotal: 1 << 20, Pids: 2}, nil
	}
	srv.HelloInterval = 5 * time.Millisecond
	srv.MinBackoff, srv.MaxBackoff = time.Millisecond, 5*time.Millisecond
	port := newPipePort()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, port)
	h := port.attach(t)
	defer h.Close()
	client := dialHost(t, h, pub)
	defer client.Close()

	t.Run("stats", func(t *testing.T) {
		ok, reply, err := client.SendRequest(proto.ReqStats, true, nil)
		var sr proto.StatsReply
		if err != nil || !ok || json.Unmarshal(reply, &sr) != nil || sr.CPUAll != 10 || sr.Pids != 2 {
			t.Fatalf("stats: %v %v %s", ok, err, reply)
		}
	})

	t.Run("streams and exit by EOF", func(t *testing.T) {
		spec := proto.ExecSpec{Args: []string{"cat"}, Env: []string{"A=1"}, User: "app:staff", WorkingDir: "/w", OpenStdin: true}
		s := openExec(t, client, spec)
		if st := recv(t, s.started, "exec started"); st.Pid != 77 {
			t.Fatalf("started %+v", st)
		}
		io.WriteString(s.ch, "hello\n")
		if ok, _ := s.ch.SendRequest(proto.ReqExecResize, true, []byte(`{"rows":1,"cols":2}`)); !ok {
			t.Fatal("resize refused")
		}
		// The fake copies one read at a time: the second line goes in
		// once the first came back.
		for deadline := time.Now().Add(10 * time.Second); s.stdout.String() != "hello\n"; {
			if time.Now().After(deadline) {
				t.Fatalf("stdout never arrived: %q", s.stdout.String())
			}
			time.Sleep(time.Millisecond) // poll
		}
		execer.mu.Lock()
		p := execer.procs[0]
		execer.mu.Unlock()
		p.mu.Lock()
		sz := p.size
		p.mu.Unlock()
		if sz != [2]uint16{1, 2} {
			t.Fatalf("resize reached the process as %v", sz)
		}
		io.WriteString(s.ch, "ERR:oops\n")
		s.ch.CloseWrite() // EOF: the fake cat exits 0 after the line
		ex := s.finish(t)
		if ex.ExitCode != 0 || ex.Error != "" {
			t.Fatalf("exit %+v", ex)
		}
		if s.stdout.String() != "hello\n" || s.stderr.String() != "oops\n" {
			t.Fatalf("stdout %q stderr %q", s.stdout.String(), s.stderr.String())
		}
		execer.mu.Lock()
		got := execer.specs[0]
		execer.mu.Unlock()
		if got.User != "app:staff" || got.WorkingDir != "/w" || len(got.Env) != 1 || !got.OpenStdin {
			t.Fatalf("spec reached the execer as %+v", got)
		}
	})

	t.Run("signal", func(t *testing.T) {
		s := openExec(t, client, proto.ExecSpec{Args: []string{"cat"}, OpenStdin: true})
		recv(t, s.started, "exec started")
		b, _ := json.Marshal(proto.SignalRequest{Signal: 15})
		if ok, err := s.ch.SendRequest(proto.ReqExecSignal, true, b); !ok {
			t.Fatalf("signal refused: %v", err)
		}
		if ex := s.finish(t); ex.ExitCode != 143 {
			t.Fatalf("exit after SIGTERM %+v", ex)
		}
		if ok, _ := s.ch.SendRequest("nonsense", true, nil); ok {
			t.Fatal("unknown request accepted")
		}
	})

	t.Run("start failure", func(t *testing.T) {
		s := openExec(t, client, proto.ExecSpec{Args: []string{"nope"}})
		ex := s.finish(t)
		if ex.ExitCode != 127 || ex.Error != `exec: "nope": executable file not found in $PATH` {
			t.Fatalf("exit %+v", ex)
		}
		select {
		case st := <-s.started:
			t.Fatalf("a process that could not start was reported started: %+v", st)
		default:
		}
	})

	t.Run("megabytes without loss", func(t *testing.T) {
		s := openExec(t, client, proto.ExecSpec{Args: []string{"big"}})
		ex := s.finish(t)
		if ex.ExitCode != 7 {
			t.Fatalf("exit %+v", ex)
		}
		want := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		var wantAll bytes.Buffer
		for wantAll.Len() < execer.size {
			wantAll.Write(want)
		}
		if got, w := sha256.Sum256(s.stdout.Bytes()), sha256.Sum256(wantAll.Bytes()[:execer.size]); s.stdout.Len() != execer.size || got != w {
			t.Fatalf("got %d bytes, want %d (checksums differ: %v)", s.stdout.Len(), execer.size, got != w)
		}
	})

	t.Run("top", func(t *testing.T) {
		ok, reply, err := client.SendRequest(proto.ReqTop, true, []byte(`{"args":["aux"]}`))
		var tr proto.TopReply
		if err != nil || !ok || json.Unmarshal(reply, &tr) != nil || len(tr.Titles) != 2 || tr.Titles[1] != "aux" || tr.Processes[0][0] != "7" {
			t.Fatalf("top: %v %v %s", ok, err, reply)
		}
		ok, reply, _ = client.SendRequest(proto.ReqTop, true, []byte(`{"args":["bad"]}`))
		if ok || string(reply) != "ps: unsupported option" {
			t.Fatalf("failing top: %v %s", ok, reply)
		}
	})

	t.Run("malformed spec", func(t *testing.T) {
		if _, _, err := client.OpenChannel(proto.ChanExec, []byte("{")); err == nil {
			t.Fatal("exec channel accepted with a malformed spec")
		}
	})
}
