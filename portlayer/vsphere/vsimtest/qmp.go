package vsimtest

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

// qmpClient speaks QEMU's machine protocol (QMP) over a monitor's unix
// socket: JSON objects, one a line. QEMU greets ({"QMP": …}), the client
// leaves negotiation with qmp_capabilities, then sends commands one at a
// time; each gets a {"return": …} or {"error": …}. Events ({"event": …})
// arrive at any time, between replies too: a reader goroutine tells them
// apart, hands replies to the waiting command and events to their
// subscribers.
type qmpClient struct {
	conn net.Conn

	cmd     sync.Mutex // one command in flight
	lastID  uint64     // the id of the last command sent (under cmd)
	replies chan qmpMessage

	mu   sync.Mutex
	subs map[*qmpSub]bool
	err  error // why the reader ended

	done chan struct{} // the reader ended
}

// qmpMessage is any message QEMU sends.
type qmpMessage struct {
	Greeting json.RawMessage `json:"QMP"`
	Return   json.RawMessage `json:"return"`
	Error    *qmpError       `json:"error"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
	ID       *uint64         `json:"id"`
}

// qmpError is a command's failure as QEMU reports it.
type qmpError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *qmpError) Error() string { return e.Class + ": " + e.Desc }

// qmpEvent is an event: its name and data.
type qmpEvent struct {
	Name string
	Data json.RawMessage
}

type qmpSub struct {
	name string
	ch   chan qmpEvent
}

// qmpEventQueue is how many events wait for a subscriber before later
// ones are lost to it.
const qmpEventQueue = 64

// qmpReplyQueue is how many replies wait: one for the command in flight,
// the rest for replies to commands whose wait was abandoned.
const qmpReplyQueue = 8

// dialQMP connects to the monitor at path, reads QEMU's greeting and
// leaves capabilities negotiation.
func dialQMP(ctx context.Context, path string) (*qmpClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("QMP %s: %w", path, err)
	}
	q := &qmpClient{conn: conn, replies: make(chan qmpMessage, qmpReplyQueue), subs: map[*qmpSub]bool{}, done: make(chan struct{})}
	r := bufio.NewReader(conn)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	line, err := r.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("QMP %s: greeting: %w", path, err)
	}
	var hello qmpMessage
	if err := json.Unmarshal(line, &hello); err != nil || hello.Greeting == nil {
		conn.Close()
		return nil, fmt.Errorf("QMP %s: greeting %q: %v", path, line, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	go q.read(r)
	if err := q.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		q.Close()
		return nil, fmt.Errorf("QMP %s: %w", path, err)
	}
	return q, nil
}

// read hands each message to its receiver until the connection ends.
func (q *qmpClient) read(r *bufio.Reader) {
	defer close(q.done)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			q.mu.Lock()
			q.err = err
			q.mu.Unlock()
			return
		}
		var m qmpMessage
		if err := json.Unmarshal(line, &m); err != nil {
			q.mu.Lock()
			q.err = fmt.Errorf("message %q: %w", line, err)
			q.mu.Unlock()
			_ = q.conn.Close()
			return
		}
		if m.Event != "" {
			q.mu.Lock()
			for s := range q.subs {
				if s.name != m.Event {
					continue
				}
				select {
				case s.ch <- qmpEvent{Name: m.Event, Data: m.Data}:
				default:
				}
			}
			q.mu.Unlock()
			continue
		}
		// A reply: the command in flight waits for it (Execute drops
		// the replies of abandoned commands by their id).
		select {
		case q.replies <- m:
		default:
		}
	}
}

// Execute runs a command with arguments (nil: none) and decodes its
// return value into result (nil: ignored).
func (q *qmpClient) Execute(ctx context.Context, command string, args, result any) error {
	q.cmd.Lock()
	defer q.cmd.Unlock()
	q.lastID++
	id := q.lastID
	msg := map[string]any{"execute": command, "id": id}
	if args != nil {
		msg["arguments"] = args
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	dl, _ := ctx.Deadline() // zero: none
	_ = q.conn.SetWriteDeadline(dl)
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	for {
		select {
		case m := <-q.replies:
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
		case <-q.done:
			return fmt.Errorf("%s: %w", command, q.readErr())
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", command, ctx.Err())
		}
	}
}

// HMP runs a human monitor command line (human-monitor-command); its
// output, which is empty when such a command succeeds, is returned.
func (q *qmpClient) HMP(ctx context.Context, line string) (string, error) {
	var out string
	err := q.Execute(ctx, "human-monitor-command", map[string]string{"command-line": line}, &out)
	return out, err
}

// Subscribe delivers the events named name from now on to the channel,
// until cancel is called.
func (q *qmpClient) Subscribe(name string) (events <-chan qmpEvent, cancel func()) {
	s := &qmpSub{name: name, ch: make(chan qmpEvent, qmpEventQueue)}
	q.mu.Lock()
	q.subs[s] = true
	q.mu.Unlock()
	return s.ch, func() {
		q.mu.Lock()
		delete(q.subs, s)
		q.mu.Unlock()
	}
}

// Done is closed when the connection ends (QEMU exited, or Close).
func (q *qmpClient) Done() <-chan struct{} { return q.done }

func (q *qmpClient) readErr() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		return errors.New("QMP connection closed")
	}
	return fmt.Errorf("QMP connection: %w", q.err)
}

// Close ends the connection and waits for the reader.
func (q *qmpClient) Close() {
	_ = q.conn.Close()
	<-q.done
}
