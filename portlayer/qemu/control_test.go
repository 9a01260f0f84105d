package qemu

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"io"
	"net"
	"os"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/control"
	"github.com/vchproject/vch/tether/proto"
)

// guestProc is the tether's view of a main process, recording requests.
type guestProc struct {
	mu      sync.Mutex
	signals []int
	stdin   chan []byte
}

func (g *guestProc) Signal(sig int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.signals = append(g.signals, sig)
	return nil
}
func (g *guestProc) Resize(rows, cols uint16) error { return nil }
func (g *guestProc) State() proto.StateReply        { return proto.StateReply{Running: true, Pid: 1} }
func (g *guestProc) Stdin() (io.WriteCloser, bool, error) {
	return stdinSink{g.stdin}, true, nil
}

type stdinSink struct{ c chan []byte }

func (s stdinSink) Write(b []byte) (int, error) { s.c <- append([]byte(nil), b...); return len(b), nil }
func (s stdinSink) Close() error                { close(s.c); return nil }

func hostKeyPair(t *testing.T) ([]byte, ssh.PublicKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), sshPub
}

// serveGuest runs the tether's real control server on one end of a pipe
// and returns the host end.
func serveGuest(t *testing.T, keyPEM []byte, g *guestProc) net.Conn {
	t.Helper()
	srv, err := control.NewServer(keyPEM, g, func(int64) error { return nil }, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	// A socket pair buffers like QEMU's socket chardev (net.Pipe does not,
	// and both SSH ends write their version line first).
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	host := fdConn(t, fds[0])
	guest := fdConn(t, fds[1])
	ctx, cancel := context.WithCancel(context.Background())
	// The server logs through t until it returns: the cleanup waits for
	// it (a line logged after the test completed panics).
	served := make(chan struct{})
	t.Cleanup(func() { cancel(); host.Close(); guest.Close(); <-served })
	go func() { defer close(served); srv.Serve(ctx, guest) }()
	return host
}

func fdConn(t *testing.T, fd int) net.Conn {
	t.Helper()
	f := os.NewFile(uintptr(fd), "socketpair")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHandshakeWithTether(t *testing.T) {
	keyPEM, pub := hostKeyPair(t)
	g := &guestProc{stdin: make(chan []byte, 4)}
	client, err := tetherlink.Handshake(context.Background(), serveGuest(t, keyPEM, g), pub)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ok, _, err := client.SendRequest(proto.ReqSignal, true, []byte(`{"signal":15}`))
	if err != nil || !ok {
		t.Fatalf("signal request: %v %v", ok, err)
	}
	g.mu.Lock()
	got := g.signals
	g.mu.Unlock()
	if len(got) != 1 || got[0] != 15 {
		t.Fatalf("guest got signals %v", got)
	}
	ch, reqs, err := client.OpenChannel(proto.ChanStdin, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ssh.DiscardRequests(reqs)
	if _, err := ch.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	if b := <-g.stdin; string(b) != "hi\n" {
		t.Fatalf("guest stdin got %q", b)
	}
	// The host announces the EOF first: a bare EOF is a lost connection
	// (vchd died), which leaves the process's stdin open.
	if ok, err := ch.SendRequest(proto.ReqStdinEOF, true, nil); err != nil || !ok {
		t.Fatalf("stdin EOF request: %v %v", ok, err)
	}
	if err := ch.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, open := <-g.stdin; open {
		t.Fatal("EOF on the channel did not close the guest's stdin")
	}
}

func TestHandshakeRejectsOtherHostKey(t *testing.T) {
	keyPEM, _ := hostKeyPair(t)
	_, otherPub := hostKeyPair(t)
	_, err := tetherlink.Handshake(context.Background(), serveGuest(t, keyPEM, &guestProc{}), otherPub)
	if err == nil {
		t.Fatal("handshake accepted a tether with an unpinned host key")
	}
}

func TestReadUntilSkipsStaleBytes(t *testing.T) {
	for _, tc := range []struct {
		name, in, rest string
	}{
		{"plain", proto.HelloLine + "ssh", "ssh"},
		{"repeated hellos and noise", "junk\n" + proto.HelloLine + proto.HelloLine + proto.AckLine + "SSH-2.0", "SSH-2.0"},
		{"stale prefix on the line", "\x00\x01" + proto.AckLine + "x", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := proto.HelloLine
			if tc.name != "plain" {
				want = proto.AckLine
			}
			r := &byteReader{s: tc.in}
			if err := tetherlink.ReadUntil(r, want); err != nil {
				t.Fatal(err)
			}
			if r.s != tc.rest {
				t.Fatalf("left %q unread, want %q (nothing past the line may be consumed)", r.s, tc.rest)
			}
		})
	}
}

type byteReader struct{ s string }

func (r *byteReader) Read(b []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(b, r.s)
	r.s = r.s[n:]
	return n, nil
}
