package container

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute/fake"
)

func demux(t *testing.T, b []byte) (string, string) {
	t.Helper()
	var o, e bytes.Buffer
	if _, err := stdcopy.StdCopy(&o, &e, bytes.NewReader(b)); err != nil {
		t.Fatalf("not a stdcopy stream: %v (%q)", err, b)
	}
	return o.String(), e.String()
}

func TestAttachBeforeStart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.pl.Programs["both"] = func(p *fake.Proc) int {
		_, _ = io.WriteString(p.Stdout, "to out\n")
		_, _ = io.WriteString(p.Stderr, "to err\n")
		return 0
	}
	id := e.create("ab", container.Config{Cmd: []string{"both"}}, nil)
	s := &streams{}
	done := make(chan error)
	go func() {
		done <- e.b.ContainerAttach(ctx, "ab", containerrouter.AttachConfig{UseStdout: true, UseStderr: true, Stream: true, Streams: s.fn})
	}()
	eventually(t, "attach waiting for the start", func() bool { return e.pl.Pending(id) > 0 })
	e.start("ab")
	if err := recv(t, done, "attach to return"); err != nil {
		t.Fatal(err)
	}
	out, errOut := demux(t, s.bytes())
	if out != "to out\n" || errOut != "to err\n" || s.tty {
		t.Fatalf("stdout %q stderr %q tty %v", out, errOut, s.tty)
	}

	// Unknown containers fail before any response is committed.
	s2 := &streams{}
	err := e.b.ContainerAttach(ctx, "ghost", containerrouter.AttachConfig{Stream: true, Streams: s2.fn})
	if !errdefs.IsNotFound(err) || s2.calls != 0 {
		t.Fatalf("attach ghost: %v, streams called %d times", err, s2.calls)
	}
	err = e.b.ContainerAttach(ctx, "ab", containerrouter.AttachConfig{DetachKeys: "ctrl-", Streams: s2.fn})
	if !errdefs.IsInvalidParameter(err) || err.Error() != "Invalid detach keys (ctrl-) provided" || s2.calls != 0 {
		t.Fatalf("bad detach keys: %v", err)
	}
}

func TestAttachStdinAndDetach(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("cat", container.Config{Cmd: []string{"cat"}, OpenStdin: true, StdinOnce: true}, nil)
	e.start("cat")
	s := &streams{in: io.NopCloser(strings.NewReader("ping\n"))}
	if err := e.b.ContainerAttach(ctx, "cat", containerrouter.AttachConfig{UseStdin: true, UseStdout: true, Stream: true, Streams: s.fn}); err != nil {
		t.Fatal(err)
	}
	if out, _ := demux(t, s.bytes()); out != "ping\n" {
		t.Fatalf("echoed %q", out)
	}
	if r := e.wait("cat", ""); r.StatusCode != 0 {
		t.Fatalf("cat exit %d", r.StatusCode)
	}

	// A TTY session detaches on ctrl-p ctrl-q; the container keeps running.
	e.create("tty", container.Config{Cmd: []string{"cat"}, OpenStdin: true, Tty: true}, nil)
	e.start("tty")
	pr, pw := io.Pipe()
	s = &streams{in: pr}
	done := make(chan error)
	go func() {
		done <- e.b.ContainerAttach(ctx, "tty", containerrouter.AttachConfig{UseStdin: true, UseStdout: true, Stream: true, Streams: s.fn})
	}()
	if _, err := pw.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tty echo of hi", func() bool { return string(s.bytes()) == "hi\n" })
	if _, err := pw.Write([]byte{16, 17}); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done, "attach to return on ctrl-p ctrl-q"); err != nil {
		t.Fatal(err)
	}
	if !s.tty || string(s.bytes()) != "hi\n" {
		t.Fatalf("tty %v output %q", s.tty, s.bytes())
	}
	if st := e.inspect("tty").State; !st.Running {
		t.Fatal("detaching stopped the container")
	}
}

func TestLogs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.pl.Programs["both"] = func(p *fake.Proc) int {
		_, _ = io.WriteString(p.Stdout, "one\ntwo\n")
		_, _ = io.WriteString(p.Stderr, "bad\n")
		return 0
	}
	e.create("lg", container.Config{Cmd: []string{"both"}}, nil)
	e.start("lg")
	e.wait("lg", "")

	logs := func(cfg containerrouter.LogsConfig) (string, string) {
		t.Helper()
		s := &streams{}
		cfg.Streams = s.fn
		if err := e.b.ContainerLogs(ctx, "lg", cfg); err != nil {
			t.Fatal(err)
		}
		return demux(t, s.bytes())
	}
	if o, er := logs(containerrouter.LogsConfig{ShowStdout: true, ShowStderr: true, Tail: -1}); o != "one\ntwo\n" || er != "bad\n" {
		t.Fatalf("logs %q %q", o, er)
	}
	// A frame per line, as docker's json-file sends them.
	fs := &streams{}
	if err := e.b.ContainerLogs(ctx, "lg", containerrouter.LogsConfig{ShowStdout: true, Tail: -1, Streams: fs.fn}); err != nil {
		t.Fatal(err)
	}
	if b := fs.bytes(); len(b) != 2*8+8 || b[0] != 1 || b[7] != 4 || string(b[8:12]) != "one\n" || b[12] != 1 || b[19] != 4 || string(b[20:]) != "two\n" {
		t.Fatalf("frames %q, want one per line", b)
	}
	if o, er := logs(containerrouter.LogsConfig{ShowStderr: true, Tail: -1}); o != "" || er != "bad\n" {
		t.Fatalf("stderr only %q %q", o, er)
	}
	o, _ := logs(containerrouter.LogsConfig{ShowStdout: true, Timestamps: true, Tail: -1})
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z one\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z two\n$`).MatchString(o) {
		t.Fatalf("timestamps %q", o)
	}
	s := &streams{}
	err := e.b.ContainerLogs(ctx, "lg", containerrouter.LogsConfig{Streams: s.fn})
	if !errdefs.IsInvalidParameter(err) || err.Error() != "You must choose at least one stream" || s.calls != 0 {
		t.Fatalf("no stream: %v", err)
	}

	// TTY logs are raw.
	e.create("tl", container.Config{Cmd: []string{"echo", "raw"}, Tty: true}, nil)
	e.start("tl")
	e.wait("tl", "")
	s = &streams{}
	if err := e.b.ContainerLogs(ctx, "tl", containerrouter.LogsConfig{ShowStdout: true, ShowStderr: true, Tail: -1, Streams: s.fn}); err != nil {
		t.Fatal(err)
	}
	if string(s.bytes()) != "raw\n" || !s.tty {
		t.Fatalf("tty logs %q", s.bytes())
	}
}
