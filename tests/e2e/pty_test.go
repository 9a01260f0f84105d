package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ttyCLI is the docker CLI running on a pty, as in a user's terminal; it
// collects everything the CLI prints.
type ttyCLI struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	// drained is closed when the reader has met the pty's end (EIO once
	// the CLI and everything it started closed the terminal).
	drained chan struct{}
}

// startTTY runs docker args on a pty of size (nil: the pty's default).
func startTTY(t *testing.T, size *pty.Winsize, args ...string) *ttyCLI {
	t.Helper()
	c := &ttyCLI{t: t, cmd: exec.Command("docker", args...), drained: make(chan struct{})}
	c.cmd.Env = dockerEnv()
	var err error
	if size != nil {
		c.ptmx, err = pty.StartWithSize(c.cmd, size)
	} else {
		c.ptmx, err = pty.Start(c.cmd)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ptmx.Close() })
	go func() {
		defer close(c.drained)
		buf := make([]byte, 4096)
		for {
			n, err := c.ptmx.Read(buf)
			c.mu.Lock()
			c.out.Write(buf[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// output is everything the CLI printed so far.
func (c *ttyCLI) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *ttyCLI) seen(s string) bool { return strings.Contains(c.output(), s) }

// expect waits until the CLI printed s (the bound catches a hang only).
func (c *ttyCLI) expect(s string) {
	c.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !c.seen(s) {
		if time.Now().After(deadline) {
			c.t.Fatalf("never saw %q; output:\n%s", s, c.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// write types s.
func (c *ttyCLI) write(s string) {
	if _, err := io.WriteString(c.ptmx, s); err != nil {
		c.t.Fatalf("typing %q: %v", s, err)
	}
}

// wait waits for the CLI to end; false if it did not within d (it is then
// killed). When it ended, everything it printed has been read: the last
// bytes (such as the CLI's final error line) can still sit in the pty when
// the process is reaped.
func (c *ttyCLI) wait(d time.Duration) (error, bool) {
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		select {
		case <-c.drained:
		case <-time.After(10 * time.Second):
			c.t.Logf("the pty did not reach its end 10 s after the CLI exited")
		}
		return err, true
	case <-time.After(d):
		_ = c.cmd.Process.Kill()
		return nil, false
	}
}
