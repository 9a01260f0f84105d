// Package qmp speaks QEMU's machine protocol (QMP) over a monitor socket:
// JSON objects, one a line. QEMU greets ({"QMP": …}), the client leaves
// negotiation with qmp_capabilities, then sends commands one at a time;
// each gets a {"return": …} or {"error": …}. Events ({"event": …}) arrive
// at any time, between replies too: a reader goroutine tells them apart,
// hands replies to the waiting command (matched by id) and events to
// their subscribers. The QEMU provider (templates, pause) and the test
// host that runs simulator VMs under QEMU (NIC and disk hot-plug) both
// use it.
package qmp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Client is one QMP session.
type Client struct {
	conn net.Conn

	cmd     sync.Mutex // one command in flight
	lastID  uint64     // the id of the last command sent (under cmd)
	replies chan message

	mu   sync.Mutex
	subs map[*sub]bool
	err  error // why the reader ended

	done chan struct{} // the reader ended
}

// message is any message QEMU sends.
type message struct {
	Greeting json.RawMessage `json:"QMP"`
	Return   json.RawMessage `json:"return"`
	Error    *Error          `json:"error"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
	ID       *uint64         `json:"id"`
}

// Error is a command's failure as QEMU reports it.
type Error struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *Error) Error() string { return e.Class + ": " + e.Desc }

// Event is an event: its name and data.
type Event struct {
	Name string
	Data json.RawMessage
}

type sub struct {
	name string
	ch   chan Event
}

// eventQueue is how many events wait for a subscriber before later ones
// are lost to it.
const eventQueue = 64

// replyQueue is how many replies wait: one for the command in flight,
// the rest for replies to commands whose wait was abandoned.
const replyQueue = 8

// DialFunc connects to a monitor socket.
type DialFunc func(ctx context.Context, path string) (net.Conn, error)

// Dial connects to the monitor's unix socket at path (see DialWith).
func Dial(ctx context.Context, path string) (*Client, error) {
	return DialWith(ctx, func(ctx context.Context, path string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}, path)
}

// DialWith connects with dial, reads QEMU's greeting and leaves
// capabilities negotiation. ctx bounds the greeting and negotiation, not
// the session.
func DialWith(ctx context.Context, dial DialFunc, path string) (*Client, error) {
	conn, err := dial(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("QMP %s: %w", path, err)
	}
	c := &Client{conn: conn, replies: make(chan message, replyQueue), subs: map[*sub]bool{}, done: make(chan struct{})}
	r := bufio.NewReader(conn)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	line, err := r.ReadBytes('\n')
	if !stop() {
		err = ctx.Err() // canceled while QEMU had not greeted
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("QMP %s: greeting: %w", path, err)
	}
	var hello message
	if err := json.Unmarshal(line, &hello); err != nil || hello.Greeting == nil {
		conn.Close()
		return nil, fmt.Errorf("QMP %s: greeting %q: %v", path, line, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	go c.read(r)
	if err := c.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("QMP %s: %w", path, err)
	}
	return c, nil
}

// read hands each message to its receiver until the connection ends.
func (c *Client) read(r *bufio.Reader) {
	defer close(c.done)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var m message
		if err := json.Unmarshal(line, &m); err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("message %q: %w", line, err)
			c.mu.Unlock()
			_ = c.conn.Close()
			return
		}
		if m.Event != "" {
			c.mu.Lock()
			for s := range c.subs {
				if s.name != m.Event {
					continue
				}
				select {
				case s.ch <- Event{Name: m.Event, Data: m.Data}:
				default:
				}
			}
			c.mu.Unlock()
			continue
		}
		// A reply: the command in flight waits for it (Execute drops
		// the replies of abandoned commands by their id).
		select {
		case c.replies <- m:
		default:
		}
	}
}

// Execute runs a command with arguments (nil: none) and decodes its
// return value into result (nil: ignored). A failure QEMU reports wraps
// an *Error.
func (c *Client) Execute(ctx context.Context, command string, args, result any) error {
	c.cmd.Lock()
	defer c.cmd.Unlock()
	c.lastID++
	id := c.lastID
	msg := map[string]any{"execute": command, "id": id}
	if args != nil {
		msg["arguments"] = args
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	dl, _ := ctx.Deadline() // zero: none
	_ = c.conn.SetWriteDeadline(dl)
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	for {
		select {
		case m := <-c.replies:
			if m.ID == nil || *m.ID != id {
				continue // an abandoned command's
			}
			if m.Error != nil {
				return fmt.Errorf("%s: %w", command, m.Error)
			}
			if result != nil && m.Return != nil {
				if err := json.Unmarshal(m.Return, result); err != nil {
					return fmt.Errorf("%s: return %s: %w", command, m.Return, err)
				}
			}
			return nil
		case <-c.done:
			return fmt.Errorf("%s: %w", command, c.readErr())
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", command, ctx.Err())
		}
	}
}

// HMP runs a human monitor command line (human-monitor-command); its
// output, which is empty when such a command succeeds, is returned.
func (c *Client) HMP(ctx context.Context, line string) (string, error) {
	var out string
	err := c.Execute(ctx, "human-monitor-command", map[string]string{"command-line": line}, &out)
	return out, err
}

// Subscribe delivers the events named name from now on to the channel,
// until cancel is called.
func (c *Client) Subscribe(name string) (events <-chan Event, cancel func()) {
	s := &sub{name: name, ch: make(chan Event, eventQueue)}
	c.mu.Lock()
	c.subs[s] = true
	c.mu.Unlock()
	return s.ch, func() {
		c.mu.Lock()
		delete(c.subs, s)
		c.mu.Unlock()
	}
}

// Done is closed when the connection ends (QEMU exited, or Close).
func (c *Client) Done() <-chan struct{} { return c.done }

func (c *Client) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return errors.New("QMP connection closed")
	}
	return fmt.Errorf("QMP connection: %w", c.err)
}

// Close ends the connection and waits for the reader.
func (c *Client) Close() {
	_ = c.conn.Close()
	<-c.done
}
