package e2e

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/creack/pty"
)

// run -it gives a real TTY: tty names a pty, a resize reaches the
// container, and typing exit ends it.
func TestRunInteractiveTTY(t *testing.T) {
	img := pulled(t)
	c := startTTY(t, &pty.Winsize{Rows: 30, Cols: 100}, "run", "-it", "--rm", img, "sh")
	c.write("tty; echo MARK-$((6*7))\r")
	c.expect("MARK-42")
	if !c.seen("/dev/pts/") {
		t.Fatalf("tty is not a pty: %s", c.output())
	}
	// The CLI sends the size in the create call (HostConfig.ConsoleSize),
	// so the first stty already shows it. The shell computes the mark, so
	// the echo of the typed line does not match it.
	c.write("stty size; echo SIZE-$((40+2))\r")
	c.expect("SIZE-42")
	if !c.seen("30 100") {
		t.Fatalf("initial size not applied: %s", c.output())
	}
	if err := pty.Setsize(c.ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	// The CLI forwards SIGWINCH as a resize call of its own, which may
	// land after the next command: ask until the new size shows.
	deadline := time.Now().Add(90 * time.Second)
	for n := 0; !c.seen("40 120"); n++ {
		if time.Now().After(deadline) {
			t.Fatalf("resize never reached the container; output:\n%s", c.output())
		}
		// The shell computes the mark, so the echo of the typed line
		// does not match it.
		c.write(fmt.Sprintf("stty size; echo RESIZED-$((%d+1000))\r", n))
		c.expect(fmt.Sprintf("RESIZED-%d", n+1000))
	}
	c.write("exit 5\r")
	err, ended := c.wait(60 * time.Second)
	if !ended {
		t.Fatal("docker run -it did not end after exit")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Fatalf("exit from the TTY: %v", err)
	}
}
