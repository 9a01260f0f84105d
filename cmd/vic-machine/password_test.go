package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// envWithout is the environment without the password variables.
func envWithout() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VIC_MACHINE_PASSWORD=") && !strings.HasPrefix(kv, "GOVC_PASSWORD=") {
			out = append(out, kv)
		}
	}
	return out
}

// Where the binary takes the vSphere password from, in order: --password,
// the target, VIC_MACHINE_PASSWORD, GOVC_PASSWORD, then a prompt on the
// terminal (not echoed); with no terminal and none of those, one line
// says what to give.
func TestVSpherePasswordSources(t *testing.T) {
	c := newCLI(t)
	ls := []string{"ls", "--target", c.target, "--thumbprint", c.tp}

	wrong := append(envWithout(), "VIC_MACHINE_PASSWORD=wrong", "GOVC_PASSWORD=wrong")
	if out, errs, ok := c.run(wrong, append(ls, "--password", cliPass)...); !ok || !strings.HasPrefix(out, "ID") {
		t.Errorf("--password over wrong variables: %q %q", out, errs)
	}
	first := append(envWithout(), "VIC_MACHINE_PASSWORD="+cliPass, "GOVC_PASSWORD=wrong")
	if out, errs, ok := c.run(first, ls...); !ok || !strings.HasPrefix(out, "ID") {
		t.Errorf("VIC_MACHINE_PASSWORD before GOVC_PASSWORD: %q %q", out, errs)
	}
	_, errs, ok := c.run(envWithout(), ls...)
	if want := "no password for " + cliUser + ": give --password or set VIC_MACHINE_PASSWORD or GOVC_PASSWORD"; ok || !strings.HasSuffix(lastLine(errs), want) {
		t.Errorf("no password and no terminal: %q, want the line %q", errs, want)
	}

	// On a terminal it asks, without echo.
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	cmd := exec.Command(c.bin, ls...)
	cmd.Env = envWithout()
	cmd.Stdin = tty
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var echoed bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&echoed, ptm) // what the terminal shows; ends when the last tty closes
	}()
	r := bufio.NewReader(stderr)
	prompt := "vSphere password for " + cliUser + ": "
	got := make([]byte, len(prompt))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != prompt {
		t.Fatalf("prompt %q: %v", got, err)
	}
	// The prompt comes before the terminal's echo is turned off: type
	// once it is, as a user at the prompt does.
	for hang := time.Now().Add(time.Minute); ; {
		if time.Now().After(hang) { // a hang, not a timing check
			t.Fatal("the terminal's echo was never turned off")
		}
		tio, err := unix.IoctlGetTermios(int(ptm.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := ptm.Write([]byte(cliPass + "\n")); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil || !strings.HasPrefix(out.String(), "ID") {
		t.Fatalf("ls with the password typed: %v\n%s%s", err, out.String(), rest)
	}
	<-copied
	if strings.Contains(echoed.String(), cliPass) {
		t.Errorf("the terminal echoed the password: %q", echoed.String())
	}
}
