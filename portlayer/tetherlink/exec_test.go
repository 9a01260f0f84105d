package tetherlink

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// quickExecTether serves exec sessions whose process ends at once: each
// ChanExec open is accepted, then started, output, exit 0 and the close
// follow without waiting for the host.
func quickExecTether(t *testing.T, conn net.Conn) {
	t.Helper()
	serveTether(t, conn, func(nc ssh.NewChannel) {
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go ssh.DiscardRequests(creqs)
		started, _ := json.Marshal(proto.ExecStarted{Pid: 42})
		_, _ = ch.SendRequest(proto.ReqExecStarted, false, started)
		_, _ = ch.Write([]byte("out\n"))
		exit, _ := json.Marshal(proto.ExecExit{ExitCode: 0})
		_, _ = ch.SendRequest(proto.ReqExecExit, false, exit)
		_ = ch.CloseWrite()
		_ = ch.Close()
	})
}

// TestExecOfAQuickProcess: a process that started, ran and ended before
// Exec looked is a started exec, not "is not running" (Exec saw both the
// start and the channel's close ready, and picked either).
func TestExecOfAQuickProcess(t *testing.T) {
	cl := clientTo(t, quickExecTether)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; i < 200; i++ {
		var out syncWriter
		x, err := Exec(ctx, cl, "c1", compute.ExecConfig{Args: []string{"true"}, Stdout: &out})
		if err != nil {
			t.Fatalf("exec %d: %v", i, err)
		}
		if code, err := x.Wait(ctx); err != nil || code != 0 || x.Pid() != 42 || out.String() != "out\n" {
			t.Fatalf("exec %d: exit %d, pid %d, stdout %q, %v", i, code, x.Pid(), out.String(), err)
		}
	}
}

// syncWriter is a buffer written by the output copier and read by the
// test.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestAwaitStartCountsAnEndedStart: with the start and the channel's end
// both reported by the time Exec looks, the exec started; with only the
// end, it did not.
func TestAwaitStartCountsAnEndedStart(t *testing.T) {
	for i := 0; i < 100; i++ { // select picks among ready cases at random
		x := &execSession{started: make(chan struct{}), reqsDone: make(chan struct{}), pid: 42}
		close(x.started)
		close(x.reqsDone)
		if started, err := x.awaitStart(context.Background()); !started || err != nil {
			t.Fatalf("started and ended: started %v, %v", started, err)
		}
	}
	x := &execSession{started: make(chan struct{}), reqsDone: make(chan struct{})}
	close(x.reqsDone)
	if started, err := x.awaitStart(context.Background()); started || err != nil {
		t.Fatalf("ended without a start: started %v, %v", started, err)
	}
}
