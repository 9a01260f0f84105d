package tetherlink

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/tether/proto"
)

// serveTether serves one SSH connection on conn as a tether would, with
// a host key of its own, handing each channel open to handle in turn.
func serveTether(t *testing.T, conn net.Conn, handle func(ssh.NewChannel)) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(signer)
	go func() {
		sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
		if err != nil {
			return
		}
		defer sc.Close()
		go ssh.DiscardRequests(reqs)
		for nc := range chans {
			handle(nc)
		}
	}()
}

// archiveTether is a tether's archive side: refuse (if set) rejects every
// ChanArchive open with that message; otherwise the open is accepted and
// answered with a stat reply.
func archiveTether(t *testing.T, conn net.Conn, refuse string) {
	t.Helper()
	serveTether(t, conn, func(nc ssh.NewChannel) {
		if nc.ChannelType() != proto.ChanArchive || refuse != "" {
			msg := refuse
			if msg == "" {
				msg = "unknown channel"
			}
			_ = nc.Reject(ssh.ConnectionFailed, msg)
			return
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go ssh.DiscardRequests(creqs)
		b, _ := json.Marshal(proto.ArchiveReply{Stat: &proto.PathStat{Name: "served"}})
		_, _ = ch.SendRequest(proto.ReqArchiveReply, false, b)
		_ = ch.Close()
	})
}

// archiveClientTo returns a client of a tether that refuses with refuse
// ("" accepts).
func archiveClientTo(t *testing.T, refuse string) *ssh.Client {
	t.Helper()
	return clientTo(t, func(t *testing.T, conn net.Conn) { archiveTether(t, conn, refuse) })
}

// clientTo returns an SSH client of the tether stand-in serve runs on the
// other end of a loopback connection.
func clientTo(t *testing.T, serve func(*testing.T, net.Conn)) *ssh.Client {
	t.Helper()
	// A loopback connection, not net.Pipe: both ends of an SSH handshake
	// write their version before reading.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	serve(t, b)
	cc, chans, reqs, err := ssh.NewClientConn(a, "tether", &ssh.ClientConfig{User: "vch", HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	cl := ssh.NewClient(cc, chans, reqs)
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// TestOpenArchiveRetrying: a tether that refuses because its VM is
// stopping is waited for (stopped), and the session goes to the next
// client (a maintenance boot's); each refused client is released. Other
// refusals, and a tether that keeps stopping, are ErrUnavailable.
func TestOpenArchiveRetrying(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := proto.ArchiveSpec{Op: proto.ArchiveStat, Path: "/"}

	type tries struct {
		clients  []*ssh.Client
		given    int
		released int
		stopped  int
	}
	client := func(tr *tries) ArchiveClient {
		return func(context.Context) (*ssh.Client, func(), error) {
			cl := tr.clients[min(tr.given, len(tr.clients)-1)]
			tr.given++
			return cl, func() { tr.released++ }, nil
		}
	}
	stopped := func(tr *tries) func(context.Context) error {
		return func(context.Context) error { tr.stopped++; return nil }
	}

	t.Run("stopping then maintenance", func(t *testing.T) {
		tr := &tries{clients: []*ssh.Client{archiveClientTo(t, proto.ArchiveStopping), archiveClientTo(t, "")}}
		s, err := OpenArchiveRetrying(ctx, "c1", spec, client(tr), stopped(tr))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		r, err := s.Next(ctx, "c1")
		if err != nil || r.Stat == nil || r.Stat.Name != "served" {
			t.Fatalf("reply from the second tether: %+v %v", r, err)
		}
		if tr.given != 2 || tr.stopped != 1 || tr.released != 1 {
			t.Fatalf("clients given %d, stop waits %d, released %d before close; want 2, 1, 1", tr.given, tr.stopped, tr.released)
		}
		s.Close()
		if tr.released != 2 {
			t.Fatalf("released %d after close, want 2", tr.released)
		}
	})

	t.Run("other refusal", func(t *testing.T) {
		tr := &tries{clients: []*ssh.Client{archiveClientTo(t, "no archive here")}}
		_, err := OpenArchiveRetrying(ctx, "c2", spec, client(tr), stopped(tr))
		if !errdefs.IsUnavailable(err) || tr.stopped != 0 || tr.released != 1 {
			t.Fatalf("open: %v (stop waits %d, released %d); want ErrUnavailable, 0, 1", err, tr.stopped, tr.released)
		}
	})

	t.Run("stopping for good", func(t *testing.T) {
		tr := &tries{clients: []*ssh.Client{archiveClientTo(t, proto.ArchiveStopping)}}
		_, err := OpenArchiveRetrying(ctx, "c3", spec, client(tr), stopped(tr))
		if !errdefs.IsUnavailable(err) || tr.given != archiveRetries+1 || tr.released != tr.given {
			t.Fatalf("open: %v (given %d, released %d); want ErrUnavailable after %d tries, all released", err, tr.given, tr.released, archiveRetries+1)
		}
	})
}
