package container

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// lockedWriter serializes the stdout and stderr frames written to one
// connection.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// outputs returns the stdout and stderr writers for out: raw with a TTY,
// else multiplexed with stdcopy.
func outputs(out io.Writer, tty bool) (stdout, stderr io.Writer) {
	lw := &lockedWriter{w: out}
	if tty {
		return lw, lw
	}
	return stdcopy.NewStdWriter(lw, stdcopy.Stdout), stdcopy.NewStdWriter(lw, stdcopy.Stderr)
}

// ContainerAttach connects the client's streams to the main process. It
// may come before the start (docker run attaches first); the port layer
// then streams the next run.
func (b *Backend) ContainerAttach(ctx context.Context, name string, cfg containerrouter.AttachConfig) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	keys := defaultDetachKeys
	if cfg.DetachKeys != "" {
		if keys, err = parseDetachKeys(cfg.DetachKeys); err != nil {
			return errdefs.InvalidParameter(fmt.Sprintf("Invalid detach keys (%s) provided", cfg.DetachKeys))
		}
	}
	tty := m.Config.Tty
	in, out, err := cfg.Streams(tty)
	if err != nil {
		return err
	}
	b.event(c.Spec.ID, m, events.ActionAttach, nil)
	if in != nil {
		defer in.Close()
	}
	stdout, stderr := outputs(out, tty)
	opts := compute.AttachOptions{Logs: cfg.Logs, Stream: cfg.Stream}
	if cfg.UseStdout {
		opts.Stdout = stdout
	}
	if cfg.UseStderr {
		opts.Stderr = stderr
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	released := make(chan struct{})
	defer close(released)
	var detach *detachReader
	if cfg.UseStdin && m.Config.OpenStdin && in != nil {
		detach = &detachReader{r: in, keys: keys, closeOnEOF: m.Config.StdinOnce && !tty, end: cancel, released: released}
		opts.Stdin = detach
	}
	err = b.pl.Attach(actx, c.Spec.ID, opts)
	if detach != nil && detach.sessionEnded() {
		return nil // detached, or the client's stdin ended: not an error
	}
	return err
}

// ContainerLogs writes kept (and with follow, new) output.
func (b *Backend) ContainerLogs(ctx context.Context, name string, cfg containerrouter.LogsConfig) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	if !cfg.ShowStdout && !cfg.ShowStderr {
		return errdefs.InvalidParameter("You must choose at least one stream")
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := b.pl.Logs(lctx, c.Spec.ID, compute.LogOptions{Follow: cfg.Follow, Since: cfg.Since, Until: cfg.Until, Tail: cfg.Tail})
	if err != nil {
		return err
	}
	tty := m.Config.Tty
	_, out, err := cfg.Streams(tty)
	if err != nil {
		return err
	}
	stdout, stderr := outputs(out, tty)
	lw := &logWriter{timestamps: cfg.Timestamps, atStart: map[string]bool{"stdout": true, "stderr": true}}
	for e := range ch {
		w := stdout
		switch {
		case e.Stream == "stderr" && !cfg.ShowStderr, e.Stream != "stderr" && !cfg.ShowStdout:
			continue
		case e.Stream == "stderr":
			w = stderr
		}
		// One write per line: docker's json-file keeps a message per
		// line and sends each in a frame of its own, and clients that
		// stream logs (docker-py's run(stream=True)) yield per frame.
		for _, line := range splitAfterNewlines(lw.format(e)) {
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitAfterNewlines cuts b after every newline; a last piece without
// one stays a piece of its own.
func splitAfterNewlines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := bytes.IndexByte(b, '\n') + 1
		if n == 0 {
			n = len(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// logWriter prefixes every line with its time, as docker logs -t does.
type logWriter struct {
	timestamps bool
	atStart    map[string]bool // per stream: the next byte starts a line
}

func (l *logWriter) format(e compute.LogEntry) []byte {
	if !l.timestamps {
		return e.Data
	}
	ts := []byte(e.Time.UTC().Format(jsonmessage.RFC3339NanoFixed) + " ")
	var buf bytes.Buffer
	data := e.Data
	for len(data) > 0 {
		if l.atStart[e.Stream] {
			buf.Write(ts)
		}
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		buf.Write(line)
		data = data[len(line):]
		l.atStart[e.Stream] = line[len(line)-1] == '\n'
	}
	return buf.Bytes()
}

// ContainerResize changes the TTY size of a running container.
func (b *Backend) ContainerResize(ctx context.Context, name string, height, width uint) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	notRunning := errdefs.Conflict(fmt.Sprintf("container %s is not running", c.Spec.ID))
	if c.Status.State != compute.StateRunning {
		return notRunning
	}
	if err := b.pl.Resize(ctx, c.Spec.ID, height, width); err != nil {
		if errdefs.IsConflict(err) {
			return notRunning
		}
		return err
	}
	b.event(c.Spec.ID, m, events.ActionResize, map[string]string{"height": strconv.FormatUint(uint64(height), 10), "width": strconv.FormatUint(uint64(width), 10)})
	return nil
}
