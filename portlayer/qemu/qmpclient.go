package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// qmpClient is one QMP session that runs commands with arguments and
// decodes their results (qmp() only runs argument-less commands).
type qmpClient struct {
	conn net.Conn
	rd   *bufio.Reader
	stop func() bool
}

// dialQMP connects to the QMP socket at path, retrying until QEMU has made
// it or ctx ends, and negotiates capabilities.
func dialQMP(ctx context.Context, dial Dialer, path string) (*qmpClient, error) {
	var conn net.Conn
	for {
		var err error
		if conn, err = dial(ctx, path); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp: dial %s: %w", path, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	c := &qmpClient{conn: conn, rd: bufio.NewReader(conn)}
	c.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	greeting, err := c.next()
	if err == nil && greeting.QMP == nil {
		err = errors.New("no greeting")
	}
	if err == nil {
		err = c.run("qmp_capabilities", nil, nil)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("qmp: %w", err)
	}
	return c, nil
}

func (c *qmpClient) Close() error {
	c.stop()
	return c.conn.Close()
}

func (c *qmpClient) next() (qmpMessage, error) {
	var m qmpMessage
	line, err := c.rd.ReadBytes('\n')
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("bad message %q: %w", line, err)
	}
	return m, nil
}

// run executes cmd with args (nil: none) and decodes its return into out
// (nil: ignored), skipping events.
func (c *qmpClient) run(cmd string, args, out any) error {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		m, err := c.next()
		if err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case m.Error != nil:
			return fmt.Errorf("qmp %s: %s: %s", cmd, m.Error.Class, m.Error.Desc)
		case m.Return != nil:
			if out != nil {
				if err := json.Unmarshal(m.Return, out); err != nil {
					return fmt.Errorf("qmp %s: %w", cmd, err)
				}
			}
			return nil
		}
	}
}

// ignoreShared turns on x-ignore-shared: RAM on a shared backend is left
// out of the migration stream (the template's RAM file holds it).
func (c *qmpClient) ignoreShared() error {
	return c.run("migrate-set-capabilities", map[string]any{
		"capabilities": []map[string]any{{"capability": "x-ignore-shared", "state": true}},
	}, nil)
}

// awaitMigration polls query-migrate until the migration completes or
// fails.
func (c *qmpClient) awaitMigration(ctx context.Context) error {
	for {
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		if err := c.run("query-migrate", nil, &st); err != nil {
			return err
		}
		switch st.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("migration %s: %s", st.Status, st.ErrorDesc)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migration: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// awaitStatus polls query-status until the VM's run state is one of want.
func (c *qmpClient) awaitStatus(ctx context.Context, want ...string) error {
	for {
		var st struct {
			Status string `json:"status"`
		}
		if err := c.run("query-status", nil, &st); err != nil {
			return err
		}
		if slices.Contains(want, st.Status) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("VM status %q, waiting for %q: %w", st.Status, want, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
