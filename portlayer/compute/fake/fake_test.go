package fake

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func create(t *testing.T, p *Provider, proc compute.Process) {
	t.Helper()
	if err := p.Create(context.Background(), compute.Spec{ID: id, Image: "sha256:x", Process: proc, Meta: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newProvider returns New(), its directory removed when t ends.
func newProvider(t *testing.T) *Provider {
	p := New()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	create(t, p, compute.Process{Args: []string{"sleep", "100"}})
	if err := p.Create(ctx, compute.Spec{ID: id, Process: compute.Process{Args: []string{"x"}}}); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: %v", err)
	}
	if err := p.Signal(ctx, id, syscall.SIGTERM); !errdefs.IsConflict(err) {
		t.Fatalf("signal before start: %v", err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if c, _ := p.Inspect(ctx, id); c.Status.State != compute.StateRunning || c.Status.StartedAt.IsZero() {
		t.Fatalf("status %+v", c.Status)
	}
	if err := p.Remove(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("remove running: %v", err)
	}
	if err := p.Start(ctx, id); !errdefs.IsNotModified(err) {
		t.Fatalf("start running: %v", err)
	}
	if err := p.Signal(ctx, id, syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(ctx, id, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait(ctx, id, compute.WaitNotRunning)
	if err != nil || st.State != compute.StateExited || st.ExitCode != 143 {
		t.Fatalf("wait: %+v %v", st, err)
	}
	if got := p.Signals(id); len(got) != 2 || got[1] != syscall.SIGTERM {
		t.Fatalf("signals %v", got)
	}
	if err := p.Update(ctx, id, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if c, _ := p.Inspect(ctx, id); string(c.Spec.Meta) != "new" {
		t.Fatalf("meta %q", c.Spec.Meta)
	}
	removed := make(chan compute.Status)
	go func() {
		st, _ := p.Wait(ctx, id, compute.WaitRemoved)
		removed <- st
	}()
	for p.Waiters(id) == 0 {
		runtime.Gosched()
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st := <-removed; st.ExitCode != 143 {
		t.Fatalf("removed status %+v", st)
	}
	if _, err := p.Inspect(ctx, id); !errdefs.IsNotFound(err) {
		t.Fatalf("inspect removed: %v", err)
	}
}

func TestStartFailure(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	create(t, p, compute.Process{Args: []string{"nosuchcmd"}})
	err := p.Start(ctx, id)
	if err == nil || !strings.Contains(err.Error(), `exec: "nosuchcmd": executable file not found in $PATH`) {
		t.Fatalf("start: %v", err)
	}
	if c, _ := p.Inspect(ctx, id); c.Status.State != compute.StateCreated {
		t.Fatalf("state %s", c.Status.State)
	}
}

func TestAttachBeforeStartAndLogs(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	p.Programs["both"] = func(pr *Proc) int {
		_, _ = pr.Stdout.Write([]byte("out\n"))
		_, _ = pr.Stderr.Write([]byte("err\n"))
		return 3
	}
	create(t, p, compute.Process{Args: []string{"both"}})
	var out, errb syncBuffer
	attached := make(chan error)
	next := make(chan compute.Status)
	go func() {
		st, _ := p.Wait(ctx, id, compute.WaitNextExit)
		next <- st
	}()
	go func() {
		attached <- p.Attach(ctx, id, compute.AttachOptions{Stdout: &out, Stderr: &errb, Stream: true})
	}()
	// Start only once the attacher is pending, as docker run does.
	for p.Pending(id) == 0 || p.Waiters(id) == 0 {
		runtime.Gosched()
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := <-attached; err != nil {
		t.Fatal(err)
	}
	if out.String() != "out\n" || errb.String() != "err\n" {
		t.Fatalf("out %q err %q", out.String(), errb.String())
	}
	if st := <-next; st.ExitCode != 3 {
		t.Fatalf("next exit %+v", st)
	}
	ch, err := p.Logs(ctx, id, compute.LogOptions{Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for e := range ch {
		got = append(got, e.Stream+":"+string(e.Data))
	}
	if strings.Join(got, "") != "stderr:err\n" {
		t.Fatalf("logs %q", got)
	}
}

func TestCatStdinAndFollow(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	create(t, p, compute.Process{Args: []string{"cat"}, OpenStdin: true})
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	ch, err := p.Logs(ctx, id, compute.LogOptions{Follow: true, Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	if err := p.Attach(ctx, id, compute.AttachOptions{Stdin: strings.NewReader("hello\n"), Stdout: &out, Stream: true}); err != nil {
		t.Fatal(err)
	}
	var followed []string
	for e := range ch {
		followed = append(followed, string(e.Data))
	}
	if out.String() != "hello\n" || strings.Join(followed, "") != "hello\n" {
		t.Fatalf("attach %q follow %q", out.String(), followed)
	}
	if err := p.Resize(ctx, id, 10, 20); !errdefs.IsConflict(err) {
		t.Fatalf("resize stopped: %v", err)
	}
}

func TestKillStubborn(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t)
	create(t, p, compute.Process{Args: []string{"/bin/stubborn"}})
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.Resize(ctx, id, 24, 80); err != nil {
		t.Fatal(err)
	}
	if h, w := p.Size(id); h != 24 || w != 80 {
		t.Fatalf("size %dx%d", h, w)
	}
	_ = p.Signal(ctx, id, syscall.SIGTERM)
	if c, _ := p.Inspect(ctx, id); c.Status.State != compute.StateRunning {
		t.Fatal("stubborn died of SIGTERM")
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, _ := p.Wait(ctx, id, compute.WaitNotRunning)
	if st.ExitCode != 137 {
		t.Fatalf("exit %d", st.ExitCode)
	}
	if err := p.Kill(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("kill stopped: %v", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Wait(wctx, id, compute.WaitNextExit); err == nil {
		t.Fatal("wait with canceled context returned no error")
	}
}

func TestShSubset(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		script, out, errOut string
		code                int
		signal              bool
	}{
		{script: "echo hi; exit 3", out: "hi\n", code: 3},
		{script: "echo 'a b'; echo oops >&2; false", out: "a b\n", errOut: "oops\n", code: 1},
		{script: "pwd; env", out: "/work\nA=1\n", code: 0},
		{script: "nosuch", errOut: "sh: nosuch: not found\n", code: 127},
		{script: "echo up; sleep 100", out: "up\n", code: 143, signal: true},
	} {
		t.Run(tc.script, func(t *testing.T) {
			p := newProvider(t)
			create(t, p, compute.Process{Args: []string{"/bin/sh", "-c", tc.script}, Env: []string{"A=1"}, WorkingDir: "/work"})
			if err := p.Start(ctx, id); err != nil {
				t.Fatal(err)
			}
			if tc.signal {
				for {
					ch, _ := p.Logs(ctx, id, compute.LogOptions{Tail: -1})
					n := 0
					for range ch {
						n++
					}
					if n > 0 {
						break
					}
					runtime.Gosched()
				}
				if err := p.Signal(ctx, id, syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			st, err := p.Wait(ctx, id, compute.WaitNotRunning)
			if err != nil || st.ExitCode != tc.code {
				t.Fatalf("exit %d %v", st.ExitCode, err)
			}
			ch, _ := p.Logs(ctx, id, compute.LogOptions{Tail: -1})
			var out, errOut string
			for e := range ch {
				if e.Stream == "stderr" {
					errOut += string(e.Data)
				} else {
					out += string(e.Data)
				}
			}
			if out != tc.out || errOut != tc.errOut {
				t.Fatalf("out %q err %q", out, errOut)
			}
		})
	}
}

// The containers' files live in the provider's own directory, which Close
// removes; with TempDir set they live there and Close leaves it alone.
func TestCloseRemovesFiles(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t) // closed here too; a second Close is harmless
	create(t, p, compute.Process{Args: []string{"sleep", "100"}})
	if _, err := p.ArchiveStat(ctx, id, "/"); err != nil {
		t.Fatalf("stat /: %v", err)
	}
	dir := p.dir
	if dir == "" || !p.owned {
		t.Fatalf("after a stat the provider has no directory of its own (%q)", dir)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after Close, %s: %v (want it gone)", dir, err)
	}

	q := New()
	q.TempDir = t.TempDir()
	create(t, q, compute.Process{Args: []string{"sleep", "100"}})
	if _, err := q.ArchiveStat(ctx, id, "/"); err != nil {
		t.Fatalf("stat / with TempDir: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(q.TempDir)
	if err != nil || len(ents) != 1 {
		t.Errorf("TempDir after Close: %v, %v (want the container's directory kept)", ents, err)
	}
}
