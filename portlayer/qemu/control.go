package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/tether/proto"
)

// handshakeTimeout bounds the control handshake when ctx has no deadline.
const handshakeTimeout = 20 * time.Second

// controlConn is the one SSH connection to a running VM's tether; it is
// made on first use and again after it broke.
type controlConn struct {
	mu     sync.Mutex
	client *ssh.Client
	closed bool
}

func (c *controlConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
}

// get returns the connection to r's tether, connecting if needed.
func (c *controlConn) get(ctx context.Context, r *runState) (*ssh.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errdefs.Conflict(fmt.Sprintf("container %s is not running", r.v.id))
	}
	if c.client != nil {
		return c.client, nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(r.hostKey))
	if err != nil {
		return nil, fmt.Errorf("container %s: pinned host key: %w", r.v.id, err)
	}
	conn, err := r.p.dial(ctx, filepath.Join(r.v.dir, fileCtl))
	if err != nil {
		return nil, fmt.Errorf("container %s: dial control channel: %w", r.v.id, errdefs.ErrUnavailable)
	}
	client, err := handshake(ctx, conn, pub)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("container %s: control channel: %w", r.v.id, err)
	}
	c.client = client
	go func() {
		_ = client.Wait()
		c.mu.Lock()
		if c.client == client {
			c.client = nil
		}
		c.mu.Unlock()
	}()
	now, _ := json.Marshal(proto.TimeRequest{UnixNano: r.p.clock.Now().UnixNano()})
	if _, _, err := client.SendRequest(proto.ReqTime, true, now); err != nil {
		r.p.log.Debug("set guest clock failed")
	}
	return client, nil
}

// handshake runs the host side of the control channel handshake on conn,
// then an SSH client that accepts only hostKey.
func handshake(ctx context.Context, conn net.Conn, hostKey ssh.PublicKey) (*ssh.Client, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(handshakeTimeout)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	stopNudge := make(chan struct{})
	nudged := proto.Nudge(conn, stopNudge)
	err := readUntil(conn, proto.HelloLine)
	close(stopNudge)
	<-nudged
	if err != nil {
		return nil, fmt.Errorf("await hello: %w", err)
	}
	if _, err := io.WriteString(conn, proto.GoLine); err != nil {
		return nil, fmt.Errorf("send go: %w", err)
	}
	if err := readUntil(conn, proto.AckLine); err != nil {
		return nil, fmt.Errorf("await ack: %w", err)
	}
	cfg := &ssh.ClientConfig{
		User:            "vch",
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         time.Until(deadline),
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, "tether", cfg)
	if err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// readUntil reads lines, one byte at a time so nothing past the line is
// consumed, until one ends with want (stale bytes may precede it).
func readUntil(r io.Reader, want string) error {
	var line bytes.Buffer
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		line.WriteByte(b[0])
		if b[0] != '\n' {
			if line.Len() > 4096 {
				line.Reset()
			}
			continue
		}
		if strings.HasSuffix(line.String(), want) {
			return nil
		}
		line.Reset()
	}
}

// dialUnix connects to a unix socket; paths too long for sockaddr_un are
// reached through /proc/self/fd of their directory.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	if len(path) < 100 {
		return d.DialContext(ctx, "unix", path)
	}
	dirfd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Dir(path), Err: err}
	}
	defer unix.Close(dirfd)
	return d.DialContext(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, filepath.Base(path)))
}
