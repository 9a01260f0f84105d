package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

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
	client, err := tetherlink.Handshake(ctx, conn, pub)
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
