// Package syslog forwards the output of a VCH's containers to a remote
// syslog server (vic-machine create --syslog-address), besides keeping it
// for docker logs.
//
// Each line is one RFC 5424 message: facility daemon, severity info for
// stdout and err for stderr, HOSTNAME the VCH's name, APP-NAME the
// container's name, PROCID its short ID, MSGID the stream:
//
//	<30>1 2026-11-30T18:00:00.123456Z vch1 web 3f2a9c1b7d4e stdout - hello
//
// Over UDP a message is one datagram; over TCP messages are framed by
// octet counting (RFC 6587 3.4.1: "LEN SP MSG").
package syslog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	eventtypes "github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"go.uber.org/zap"

	"github.com/vchproject/vch/backends/events"
	"github.com/vchproject/vch/portlayer/compute"
)

// ParseAddress checks a --syslog-address: udp://host:port or
// tcp://host:port. It returns the network and the address.
func ParseAddress(s string) (network, addr string, err error) {
	bad := fmt.Errorf("--syslog-address %q: use udp://host:port or tcp://host:port, e.g. udp://127.0.0.1:514", s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp") || u.Host == "" || u.Port() == "" || strings.Trim(u.Path, "/") != "" || u.User != nil || u.RawQuery != "" {
		return "", "", bad
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		return "", "", bad
	}
	return u.Scheme, u.Host, nil
}

// Source is what the forwarder reads: the containers and their output.
type Source interface {
	List(ctx context.Context) ([]compute.Container, error)
	Logs(ctx context.Context, id string, opts compute.LogOptions) (<-chan compute.LogEntry, error)
}

// Config sets up a Forwarder.
type Config struct {
	Address  string // udp://host:port or tcp://host:port
	Hostname string // the VCH's name
	Source   Source
	Events   *events.Service        // container start events
	NameOf   func(id string) string // a container's name
	Logger   *zap.Logger
}

// Forwarder sends container output to a syslog server.
type Forwarder struct {
	cfg           Config
	network, addr string

	mu        sync.Mutex
	conn      net.Conn
	following map[string]bool      // container IDs being followed
	again     map[string]time.Time // started again while still followed
}

// New checks the address; Run starts forwarding.
func New(cfg Config) (*Forwarder, error) {
	network, addr, err := ParseAddress(cfg.Address)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Forwarder{cfg: cfg, network: network, addr: addr, following: map[string]bool{}, again: map[string]time.Time{}}, nil
}

// Run forwards until ctx ends: output of containers running now (from
// now on: what they wrote while no vchd ran is in docker logs only) and
// of every container started later (from its start).
func (f *Forwarder) Run(ctx context.Context) {
	_, sub := f.cfg.Events.Subscribe(time.Time{}, startFilter())
	defer sub.Close()
	defer f.closeConn()
	if cs, err := f.cfg.Source.List(ctx); err == nil {
		now := time.Now()
		for _, c := range cs {
			if c.Status.State == compute.StateRunning {
				f.follow(ctx, c.Spec.ID, now)
			}
		}
	} else {
		f.cfg.Logger.Warn("syslog: list containers", zap.Error(err))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-sub.C():
			if !ok {
				// Fell behind: subscribe again and pick up running ones.
				f.cfg.Logger.Warn("syslog: event subscription ended", zap.Error(sub.Err()))
				_, sub = f.cfg.Events.Subscribe(time.Time{}, startFilter())
				continue
			}
			f.follow(ctx, m.Actor.ID, time.Time{})
		}
	}
}

func startFilter() events.Filter {
	flt, _ := events.NewFilter(filters.NewArgs(filters.Arg("type", string(eventtypes.ContainerEventType)), filters.Arg("event", "start")))
	return flt
}

// follow streams one container's output from since (not before its last
// run finished) until its process ends.
func (f *Forwarder) follow(ctx context.Context, id string, since time.Time) {
	f.mu.Lock()
	if f.following[id] {
		// The last run's output is still draining: follow the new run
		// once it is done.
		f.again[id] = since
		f.mu.Unlock()
		return
	}
	f.following[id] = true
	f.mu.Unlock()
	go func() {
		defer func() {
			f.mu.Lock()
			delete(f.following, id)
			next, ok := f.again[id]
			delete(f.again, id)
			f.mu.Unlock()
			if ok && ctx.Err() == nil {
				f.follow(ctx, id, next)
			}
		}()
		if cs, err := f.cfg.Source.List(ctx); err == nil {
			for _, c := range cs {
				// Output records carry the guest's clock, which may lag
				// the host's StartedAt: this run is what came after the
				// last run finished.
				if c.Spec.ID == id && c.Status.FinishedAt.After(since) {
					since = c.Status.FinishedAt.Add(time.Nanosecond)
				}
			}
		}
		ch, err := f.cfg.Source.Logs(ctx, id, compute.LogOptions{Follow: true, Since: since, Tail: -1})
		if err != nil {
			f.cfg.Logger.Warn("syslog: follow container output", zap.String("id", id), zap.Error(err))
			return
		}
		name := strings.TrimPrefix(f.nameOf(id), "/")
		partial := map[string][]byte{}
		for e := range ch {
			buf := append(partial[e.Stream], e.Data...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				f.send(e.Stream, e.Time, name, id, buf[:i])
				buf = buf[i+1:]
			}
			partial[e.Stream] = append([]byte(nil), buf...)
		}
		for stream, rest := range partial {
			if len(rest) > 0 {
				f.send(stream, time.Now(), name, id, rest)
			}
		}
	}()
}

func (f *Forwarder) nameOf(id string) string {
	if f.cfg.NameOf != nil {
		if n := f.cfg.NameOf(id); n != "" {
			return n
		}
	}
	return shortID(id)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Format renders one RFC 5424 message.
func Format(stream string, t time.Time, hostname, app, procID string, msg []byte) []byte {
	sev := 6 // info
	if stream == "stderr" {
		sev = 3 // err
	}
	const facility = 3 // daemon
	var b bytes.Buffer
	fmt.Fprintf(&b, "<%d>1 %s %s %s %s %s - ", facility*8+sev, t.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		header(hostname, 255), header(app, 48), header(procID, 128), header(stream, 32))
	b.Write(bytes.TrimRight(msg, "\r"))
	return b.Bytes()
}

// header makes a header field: printable US-ASCII without spaces, at most
// max characters, "-" when empty.
func header(s string, max int) string {
	out := strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return '_'
		}
		return r
	}, s)
	if len(out) > max {
		out = out[:max]
	}
	if out == "" {
		return "-"
	}
	return out
}

// send delivers one message, reconnecting once if the connection broke.
// A message that cannot be sent is dropped (logged), as a syslog client
// does: container output is still kept for docker logs.
func (f *Forwarder) send(stream string, t time.Time, app, id string, line []byte) {
	msg := Format(stream, t, f.cfg.Hostname, app, shortID(id), line)
	if f.network == "tcp" {
		msg = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if f.conn == nil {
			c, err := net.DialTimeout(f.network, f.addr, 5*time.Second)
			if err != nil {
				f.cfg.Logger.Warn("syslog: connect", zap.String("address", f.cfg.Address), zap.Error(err))
				return
			}
			f.conn = c
		}
		_ = f.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := f.conn.Write(msg); err == nil {
			return
		}
		f.conn.Close()
		f.conn = nil
	}
}

func (f *Forwarder) closeConn() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil {
		f.conn.Close()
		f.conn = nil
	}
}

// ReadFramed reads one octet-counted message from r (for tests and
// tools reading what a TCP forwarder sends).
func ReadFramed(r *bufio.Reader) (string, error) {
	n, err := r.ReadString(' ')
	if err != nil {
		return "", err
	}
	size, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || size < 0 || size > 1<<20 {
		return "", fmt.Errorf("bad syslog frame length %q", n)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}
