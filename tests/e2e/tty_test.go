package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// run -it gives a real TTY: tty names a pty, a resize reaches the
// container, and typing exit ends it.
func TestRunInteractiveTTY(t *testing.T) {
	img := pulled(t)
	cmd := exec.Command("docker", "run", "-it", "--rm", img, "sh")
	cmd.Env = dockerEnv()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		r := bufio.NewReader(ptmx)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	seen := func(s string) bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(out.String(), s) }
	expect := func(s string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !seen(s) {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("never saw %q; output:\n%s", s, out.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	io.WriteString(ptmx, "tty; echo MARK-$((6*7))\r")
	expect("MARK-42")
	if !seen("/dev/pts/") {
		t.Fatalf("tty is not a pty: %s", out.String())
	}
	io.WriteString(ptmx, "stty size; echo SIZE-DONE\r")
	expect("SIZE-DONE")
	if !seen("30 100") {
		t.Fatalf("initial size not applied: %s", out.String())
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	// The CLI forwards SIGWINCH as a resize call of its own, which may
	// land after the next command: ask until the new size shows.
	deadline := time.Now().Add(90 * time.Second)
	for n := 0; !seen("40 120"); n++ {
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("resize never reached the container; output:\n%s", out.String())
		}
		// The shell computes the mark, so the echo of the typed line
		// does not match it.
		mark := fmt.Sprintf("RESIZED-%d", n+1000)
		fmt.Fprintf(ptmx, "stty size; echo RESIZED-$((%d+1000))\r", n)
		expect(mark)
	}
	io.WriteString(ptmx, "exit 5\r")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
			t.Fatalf("exit from the TTY: %v", err)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("docker run -it did not end after exit")
	}
}
