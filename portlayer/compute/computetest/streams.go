package computetest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/vchproject/vch/portlayer/compute"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
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

func (s *suite) logsSeparateStreams(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdOutErr)
	if st := run(ctx, t, p, id); st.ExitCode != 0 {
		t.Fatalf("run: %+v", st)
	}
	out, errOut, _ := logs(ctx, t, p, id, compute.LogOptions{Tail: -1})
	if out != "out\n" || errOut != "err\n" {
		t.Fatalf("stdout %q stderr %q, want %q and %q", out, errOut, "out\n", "err\n")
	}
	// Output is kept across runs (appended).
	if st := run(ctx, t, p, id); st.ExitCode != 0 {
		t.Fatalf("second run: %+v", st)
	}
	out, errOut, _ = logs(ctx, t, p, id, compute.LogOptions{Tail: -1})
	if out != "out\nout\n" || errOut != "err\nerr\n" {
		t.Fatalf("after two runs: stdout %q stderr %q", out, errOut)
	}
}

func (s *suite) logsTail(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdCount)
	run(ctx, t, p, id)
	all, _, n := logs(ctx, t, p, id, compute.LogOptions{Tail: -1})
	if all != "1\n2\n3\n" || n == 0 {
		t.Fatalf("all output %q in %d entries", all, n)
	}
	if out, _, n := logs(ctx, t, p, id, compute.LogOptions{Tail: 0}); n != 0 {
		t.Fatalf("tail 0 gave %d entries (%q)", n, out)
	}
	// How output is cut into entries is the provider's business; the last
	// entry is the end of the output.
	last, _, n1 := logs(ctx, t, p, id, compute.LogOptions{Tail: 1})
	if n1 != 1 || last == "" || !strings.HasSuffix(all, last) {
		t.Fatalf("tail 1: %d entries %q, not the end of %q", n1, last, all)
	}
	// Since after everything: nothing; Until before everything: nothing.
	c := inspect(ctx, t, p, id)
	if out, _, n := logs(ctx, t, p, id, compute.LogOptions{Tail: -1, Since: c.Status.FinishedAt.Add(1e9)}); n != 0 {
		t.Fatalf("since after the run: %d entries %q", n, out)
	}
	if out, _, n := logs(ctx, t, p, id, compute.LogOptions{Tail: -1, Until: c.Status.StartedAt.Add(-60e9)}); n != 0 {
		t.Fatalf("until before the run: %d entries %q", n, out)
	}
}

func (s *suite) logsFollow(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdCat, func(sp *compute.Spec) { sp.Process.OpenStdin = true })
	startOK(ctx, t, p, id)
	ch, err := p.Logs(ctx, id, compute.LogOptions{Follow: true, Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	attached := make(chan error, 1)
	go func() { attached <- p.Attach(ctx, id, compute.AttachOptions{Stdin: pr, Stream: true}) }()
	if _, err := io.WriteString(pw, "followed\n"); err != nil {
		t.Fatal(err)
	}
	var got string
	for e := range ch {
		got += string(e.Data)
		if got == "followed\n" {
			pw.Close() // EOF: cat exits, the follow ends
		}
	}
	if got != "followed\n" {
		t.Fatalf("followed output %q", got)
	}
	if err := <-attached; err != nil {
		t.Fatalf("attach: %v", err)
	}
	if st := inspect(ctx, t, p, id).Status; st.State != compute.StateExited || st.ExitCode != 0 {
		// The follow ended at the exit; the status may lag by the VM's
		// power-off, so wait for it before judging.
		if st = waitFor(ctx, t, p, id, compute.WaitNotRunning); st.ExitCode != 0 {
			t.Fatalf("cat after EOF: %+v", st)
		}
	}
	// Following a stopped container returns the kept output and ends.
	out, _, _ := logs(ctx, t, p, id, compute.LogOptions{Follow: true, Tail: -1})
	if out != "followed\n" {
		t.Fatalf("follow of a stopped container %q", out)
	}
}

func (s *suite) attachBeforeStart(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdCat, func(sp *compute.Spec) {
		sp.Process.OpenStdin = true
		sp.Process.StdinOnce = true
	})
	var stdout, stderr syncBuffer
	attached := make(chan error, 1)
	go func() {
		attached <- p.Attach(ctx, id, compute.AttachOptions{
			Stdin: strings.NewReader("hello\n"), Stdout: &stdout, Stderr: &stderr, Stream: true,
		})
	}()
	// cat prints only what the attach feeds it, so the attach cannot miss
	// output however late it registers.
	startOK(ctx, t, p, id)
	if err := <-attached; err != nil {
		t.Fatalf("attach: %v", err)
	}
	if stdout.String() != "hello\n" || stderr.String() != "" {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	if st := waitFor(ctx, t, p, id, compute.WaitNotRunning); st.ExitCode != 0 {
		t.Fatalf("cat after stdin EOF: %+v", st)
	}
}

func (s *suite) attachRunning(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdCat, func(sp *compute.Spec) { sp.Process.OpenStdin = true })
	startOK(ctx, t, p, id)
	// First attach: feed a line, then detach (cancel) while cat still runs.
	actx, cancel := context.WithCancel(ctx)
	var first syncBuffer
	pr, pw := io.Pipe()
	attached := make(chan error, 1)
	go func() { attached <- p.Attach(actx, id, compute.AttachOptions{Stdin: pr, Stdout: &first, Stream: true}) }()
	if _, err := io.WriteString(pw, "one\n"); err != nil {
		t.Fatal(err)
	}
	// The attach ends only by cancel: its output is seen through Logs.
	for {
		out, _, _ := logs(ctx, t, p, id, compute.LogOptions{Tail: -1})
		if out == "one\n" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("output of the first attach never kept: %q", out)
		}
	}
	cancel()
	<-attached
	// pw stays open: what the caller does with its stdin after a detach is
	// no longer the provider's business.
	defer pw.Close()
	// Second attach with Logs replays "one\n", then streams until exit.
	var second syncBuffer
	err := p.Attach(ctx, id, compute.AttachOptions{Stdin: strings.NewReader("two\n"), Stdout: &second, Logs: true, Stream: true})
	if err != nil {
		t.Fatalf("second attach: %v", err)
	}
	if second.String() != "one\ntwo\n" {
		t.Fatalf("second attach got %q, want %q", second.String(), "one\ntwo\n")
	}
}
