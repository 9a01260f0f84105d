package tetherlink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/proto"
)

// handshakeTimeout bounds the control handshake when ctx has no deadline.
const handshakeTimeout = 20 * time.Second

// Handshake runs the host side of the control channel handshake on conn,
// then an SSH client that accepts only hostKey.
func Handshake(ctx context.Context, conn net.Conn, hostKey ssh.PublicKey) (*ssh.Client, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(handshakeTimeout)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	stopNudge := make(chan struct{})
	nudged := proto.Nudge(conn, stopNudge)
	err := ReadUntil(conn, proto.HelloLine)
	close(stopNudge)
	<-nudged
	if err != nil {
		return nil, fmt.Errorf("await hello: %w", err)
	}
	if _, err := io.WriteString(conn, proto.GoLine); err != nil {
		return nil, fmt.Errorf("send go: %w", err)
	}
	if err := ReadUntil(conn, proto.AckLine); err != nil {
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

// ReadUntil reads lines, one byte at a time so nothing past the line is
// consumed, until one ends with want (stale bytes may precede it).
func ReadUntil(r io.Reader, want string) error {
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
