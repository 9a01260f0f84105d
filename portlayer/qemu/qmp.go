package qemu

import (
	"context"
	"fmt"
	"slices"
	"time"

	qmpc "github.com/vchproject/vch/internal/qmp"
)

// qmpTimeout bounds one QMP exchange when ctx has no deadline.
const qmpTimeout = 10 * time.Second

// qmp runs commands (each without arguments) on the QMP socket at path in
// a session of their own. QEMU serves one QMP client at a time; callers
// serialize.
func qmp(ctx context.Context, dial Dialer, path string, commands ...string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, qmpTimeout)
		defer cancel()
	}
	c, err := qmpc.DialWith(ctx, qmpc.DialFunc(dial), path)
	if err != nil {
		return fmt.Errorf("qmp: %w", err)
	}
	defer c.Close()
	for _, cmd := range commands {
		if err := c.Execute(ctx, cmd, nil, nil); err != nil {
			return fmt.Errorf("qmp %w", err)
		}
	}
	return nil
}

// qmpClient is a QMP session whose commands run under the context it was
// dialled with (a template save or restore).
type qmpClient struct {
	ctx context.Context
	c   *qmpc.Client
}

// dialQMP connects to the QMP socket at path, retrying until QEMU has made
// it or ctx ends.
func dialQMP(ctx context.Context, dial Dialer, path string) (*qmpClient, error) {
	for {
		c, err := qmpc.DialWith(ctx, qmpc.DialFunc(dial), path)
		if err == nil {
			return &qmpClient{ctx: ctx, c: c}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (q *qmpClient) Close() error {
	q.c.Close()
	return nil
}

// run executes cmd with args (nil: none) and decodes its return into out
// (nil: ignored).
func (q *qmpClient) run(cmd string, args, out any) error {
	if err := q.c.Execute(q.ctx, cmd, args, out); err != nil {
		return fmt.Errorf("qmp %w", err)
	}
	return nil
}

// ignoreShared turns on x-ignore-shared: RAM on a shared backend is left
// out of the migration stream (the template's RAM file holds it).
func (q *qmpClient) ignoreShared() error {
	return q.run("migrate-set-capabilities", map[string]any{
		"capabilities": []map[string]any{{"capability": "x-ignore-shared", "state": true}},
	}, nil)
}

// awaitMigration polls query-migrate until the migration completes or
// fails.
func (q *qmpClient) awaitMigration(ctx context.Context) error {
	for {
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		if err := q.run("query-migrate", nil, &st); err != nil {
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
func (q *qmpClient) awaitStatus(ctx context.Context, want ...string) error {
	for {
		var st struct {
			Status string `json:"status"`
		}
		if err := q.run("query-status", nil, &st); err != nil {
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
