package tether

import (
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDrainReaderPtyLines: an exec's pty reader hands on a line with its
// "\r\n" in one read, a partial line (a prompt) once no more comes, and
// EOF once the slave is closed.
func TestDrainReaderPtyLines(t *testing.T) {
	m, s, err := openPty("/dev/ptmx")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fd, err := unix.Dup(int(m.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	master := os.NewFile(uintptr(fd), "ptmx")
	defer master.Close()
	d := &drainReader{f: master, exited: make(chan struct{}), pty: true}
	buf := make([]byte, 4096)

	if _, err := s.Write([]byte("hello out\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Read(buf); err != nil || string(buf[:n]) != "hello out\r\n" {
		t.Fatalf("line: %q %v", buf[:n], err)
	}
	if _, err := s.Write([]byte("$ ")); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Read(buf); err != nil || string(buf[:n]) != "$ " {
		t.Fatalf("prompt: %q %v", buf[:n], err)
	}
	s.Close()
	if n, err := d.Read(buf); err != io.EOF {
		t.Fatalf("after the slave closed: %q %v, want EOF", buf[:n], err)
	}
}
