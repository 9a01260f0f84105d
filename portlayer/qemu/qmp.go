package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpTimeout bounds one QMP exchange when ctx has no deadline.
const qmpTimeout = 10 * time.Second

// qmpMessage is any message QEMU sends on QMP: the greeting, a command's
// return or error, or an asynchronous event.
type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string `json:"event"`
}

// qmp runs commands (each without arguments) on the QMP socket at path:
// greeting, qmp_capabilities, then each command in turn, skipping events.
// QEMU serves one QMP client at a time; callers serialize.
func qmp(ctx context.Context, dial Dialer, path string, commands ...string) error {
	conn, err := dial(ctx, path)
	if err != nil {
		return fmt.Errorf("qmp: dial: %w", err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(qmpTimeout)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	rd := bufio.NewReader(conn)
	next := func() (qmpMessage, error) {
		var m qmpMessage
		line, err := rd.ReadBytes('\n')
		if err != nil {
			return m, err
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return m, fmt.Errorf("qmp: bad message %q: %w", line, err)
		}
		return m, nil
	}
	greeting, err := next()
	if err != nil {
		return fmt.Errorf("qmp: greeting: %w", err)
	}
	if greeting.QMP == nil {
		return fmt.Errorf("qmp: no greeting")
	}
	for _, cmd := range append([]string{"qmp_capabilities"}, commands...) {
		if err := qmpExecute(conn, next, cmd); err != nil {
			return err
		}
	}
	return nil
}

func qmpExecute(conn net.Conn, next func() (qmpMessage, error), cmd string) error {
	b, _ := json.Marshal(map[string]string{"execute": cmd})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		m, err := next()
		if err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case m.Error != nil:
			return fmt.Errorf("qmp %s: %s: %s", cmd, m.Error.Class, m.Error.Desc)
		case m.Return != nil:
			return nil
		}
		// An event: keep reading.
	}
}
