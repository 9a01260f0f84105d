package qmp_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/internal/qmp"
	"github.com/vchproject/vch/internal/qmp/qmptest"
)

// TestQMP: the client against a real QEMU: the greeting and capabilities
// negotiation, a command's return value and error, events apart from the
// replies around them (cont's RESUME, stop's STOP), an HMP command, and
// the connection's end when QEMU quits.
func TestQMP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sock := qmptest.Start(t)
	q, err := qmp.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var st struct {
		Running bool   `json:"running"`
		Status  string `json:"status"`
	}
	if err := q.Execute(ctx, "query-status", nil, &st); err != nil || st.Running || st.Status != "prelaunch" {
		t.Fatalf("query-status %+v %v", st, err)
	}
	var qerr *qmp.Error
	if err := q.Execute(ctx, "no-such-command", nil, nil); !errors.As(err, &qerr) || qerr.Class != "CommandNotFound" {
		t.Fatalf("an unknown command: %v", err)
	}
	resumed, cancelResumed := q.Subscribe("RESUME")
	defer cancelResumed()
	stopped, cancelStopped := q.Subscribe("STOP")
	defer cancelStopped()
	if err := q.Execute(ctx, "cont", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := q.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan qmp.Event{resumed, stopped} {
		select {
		case ev := <-ch:
			if ev.Name != "RESUME" && ev.Name != "STOP" {
				t.Fatalf("event %+v", ev)
			}
		case <-ctx.Done():
			t.Fatal("no RESUME and STOP events")
		}
	}
	if err := q.Execute(ctx, "query-status", nil, &st); err != nil || st.Running || st.Status != "paused" {
		t.Fatalf("query-status after stop %+v %v", st, err)
	}
	if out, err := q.HMP(ctx, "info status"); err != nil || !strings.Contains(out, "paused") {
		t.Fatalf("HMP info status: %q %v", out, err)
	}
	if err := q.Execute(ctx, "quit", nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-q.Done():
	case <-ctx.Done():
		t.Fatal("the connection outlived QEMU")
	}
	if err := q.Execute(ctx, "query-status", nil, nil); err == nil {
		t.Fatal("a command after QEMU quit")
	}
}

// TestDialCanceled: a monitor that never greets does not hold Dial past
// its context.
func TestDialCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	server, client := net.Pipe()
	defer server.Close()
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := qmp.DialWith(ctx, func(context.Context, string) (net.Conn, error) { return client, nil }, "silent")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("dial of a silent monitor: %v", err)
	}
}
