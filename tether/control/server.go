package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/proto"
)

// Process is what control requests act on: the container's main process.
type Process interface {
	// Signal sends sig to the main process only, as docker does.
	Signal(sig int) error
	// Resize sets the TTY size; an error if there is no TTY.
	Resize(rows, cols uint16) error
	// State reports the process state.
	State() proto.StateReply
	// Stdin waits until the process has started and returns its stdin and
	// whether EOF from the host must close it (false for a TTY). It fails if
	// the process has no open stdin or could not start.
	Stdin() (w io.WriteCloser, closeOnEOF bool, err error)
}

// Server serves the control channel.
type Server struct {
	cfg     *ssh.ServerConfig
	proc    Process
	setTime func(unixNano int64) error
	log     *zap.Logger

	// Exec starts exec sessions (proto.ChanExec); nil refuses them.
	Exec Execer
	// Top answers proto.ReqTop; nil refuses it.
	Top func(args []string) (proto.TopReply, error)
	// Stats answers proto.ReqStats; nil refuses it.
	Stats func() (proto.StatsReply, error)
	// NIC answers proto.ReqNIC; nil refuses it.
	NIC func(proto.NICRequest) error
	// Archive serves proto.ChanArchive sessions; nil refuses them.
	Archive Archiver
	// PowerOff answers proto.ReqPowerOff (maintenance VMs); nil refuses it.
	PowerOff func()
	// Freeze and Thaw stop and continue the container's processes
	// (ReqFreeze, ReqThaw); nil: refused.
	Freeze, Thaw func() error

	// HelloInterval is how often the hello line is repeated (100 ms).
	HelloInterval time.Duration
	// MinBackoff and MaxBackoff bound the sleep after EOF on the port while
	// no host is connected.
	MinBackoff, MaxBackoff time.Duration
}

// NewServer returns a Server answering with hostKeyPEM (a PEM private key)
// and requiring no client authentication.
func NewServer(hostKeyPEM []byte, proc Process, setTime func(int64) error, log *zap.Logger) (*Server, error) {
	key, err := ssh.ParsePrivateKey(hostKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("control channel host key: %w", err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(key)
	return &Server{cfg: cfg, proc: proc, setTime: setTime, log: log,
		HelloInterval: 100 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 400 * time.Millisecond}, nil
}

// Serve runs handshake + SSH session on port until ctx ends (the tether:
// forever). port must stay open; reads return EOF while no host is
// connected. Serve notices ctx between sessions and while no host is there.
func (s *Server) Serve(ctx context.Context, port io.ReadWriter) {
	for ctx.Err() == nil {
		if err := s.handshake(ctx, port); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("control handshake", zap.Error(err))
			time.Sleep(s.MaxBackoff)
			continue
		}
		s.log.Debug("control channel: host connected")
		err := s.ServeConn(&portConn{rw: port})
		s.log.Debug("control channel: host gone", zap.Error(err))
	}
}

// handshake runs the guest side of the handshake on port.
func (s *Server) handshake(ctx context.Context, port io.ReadWriter) error {
	var (
		h    Handshake
		mu   sync.Mutex // orders writes: no hello after the ack
		werr error
	)
	stop := make(chan struct{})
	defer close(stop)
	write := func(line string) {
		if line == "" || werr != nil {
			return
		}
		_, werr = io.WriteString(port, line)
	}
	go func() {
		t := time.NewTicker(s.HelloInterval)
		defer t.Stop()
		for {
			mu.Lock()
			write(h.Tick())
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	lr := lineReader{ctx: ctx, r: port, min: s.MinBackoff, max: s.MaxBackoff}
	for {
		line, err := lr.next()
		if err != nil {
			return err
		}
		mu.Lock()
		reply, done := h.Line(line)
		write(reply)
		err = werr
		mu.Unlock()
		if err != nil {
			return fmt.Errorf("write to control port: %w", err)
		}
		if done {
			return nil
		}
	}
}

// lineReader reads one byte at a time so nothing after the go line is
// consumed, and sleeps with exponential back-off while the port reads EOF
// (no host connected).
type lineReader struct {
	ctx      context.Context
	r        io.Reader
	min, max time.Duration
	buf      []byte
}

func (l *lineReader) next() (string, error) {
	var b [1]byte
	backoff := l.min
	for {
		n, err := l.r.Read(b[:])
		if n == 1 {
			backoff = l.min
			l.buf = append(l.buf, b[0])
			if b[0] == '\n' || len(l.buf) >= 4096 {
				line := string(l.buf)
				l.buf = l.buf[:0]
				return line, nil
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		if err := l.ctx.Err(); err != nil {
			return "", err
		}
		time.Sleep(backoff)
		if backoff *= 2; backoff > l.max {
			backoff = l.max
		}
	}
}

// ServeConn runs one SSH server connection on c until it ends.
func (s *Server) ServeConn(c net.Conn) error {
	conn, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		return fmt.Errorf("ssh handshake: %w", err)
	}
	defer conn.Close()
	go s.handleRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case proto.ChanStdin:
			go s.handleStdin(nc)
		case proto.ChanExec:
			go s.handleExec(nc)
		case proto.ChanArchive:
			go s.handleArchive(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "unknown channel type "+nc.ChannelType())
		}
	}
	return conn.Wait()
}

func (s *Server) handleRequests(reqs <-chan *ssh.Request) {
	for r := range reqs {
		ok, payload := s.request(r.Type, r.Payload)
		if r.WantReply {
			r.Reply(ok, payload)
		}
	}
}

// request executes one global request; the reply payload is an error
// message on failure.
func (s *Server) request(typ string, payload []byte) (bool, []byte) {
	fail := func(err error) (bool, []byte) {
		s.log.Debug("control request failed", zap.String("type", typ), zap.Error(err))
		return false, []byte(err.Error())
	}
	switch typ {
	case proto.ReqSignal:
		var r proto.SignalRequest
		if err := json.Unmarshal(payload, &r); err != nil {
			return fail(err)
		}
		if err := s.proc.Signal(r.Signal); err != nil {
			return fail(err)
		}
	case proto.ReqResize:
		var r proto.ResizeRequest
		if err := json.Unmarshal(payload, &r); err != nil {
			return fail(err)
		}
		if err := s.proc.Resize(r.Rows, r.Cols); err != nil {
			return fail(err)
		}
	case proto.ReqTime:
		var r proto.TimeRequest
		if err := json.Unmarshal(payload, &r); err != nil {
			return fail(err)
		}
		if err := s.setTime(r.UnixNano); err != nil {
			return fail(err)
		}
	case proto.ReqTop:
		var r proto.TopRequest
		if err := json.Unmarshal(payload, &r); err != nil {
			return fail(err)
		}
		if s.Top == nil {
			return fail(errors.New("top is not available"))
		}
		t, err := s.Top(r.Args)
		if err != nil {
			return fail(err)
		}
		b, err := json.Marshal(t)
		if err != nil {
			return fail(err)
		}
		return true, b
	case proto.ReqStats:
		if s.Stats == nil {
			return fail(errors.New("stats are not available"))
		}
		st, err := s.Stats()
		if err != nil {
			return fail(err)
		}
		b, err := json.Marshal(st)
		if err != nil {
			return fail(err)
		}
		return true, b
	case proto.ReqNIC:
		var r proto.NICRequest
		if err := json.Unmarshal(payload, &r); err != nil {
			return fail(err)
		}
		if s.NIC == nil {
			return fail(errors.New("NIC configuration is not available"))
		}
		if err := s.NIC(r); err != nil {
			return fail(err)
		}
	case proto.ReqPowerOff:
		if s.PowerOff == nil {
			return fail(errors.New("power off is only for maintenance VMs"))
		}
		go s.PowerOff()
	case proto.ReqFreeze, proto.ReqThaw:
		fn := s.Freeze
		if typ == proto.ReqThaw {
			fn = s.Thaw
		}
		if fn == nil {
			return fail(errors.New(typ + " is not available"))
		}
		if err := fn(); err != nil {
			return fail(err)
		}
	case proto.ReqState:
		b, err := json.Marshal(s.proc.State())
		if err != nil {
			return fail(err)
		}
		return true, b
	default:
		return false, []byte("unknown request " + typ)
	}
	return true, nil
}

func (s *Server) handleStdin(nc ssh.NewChannel) {
	w, closeOnEOF, err := s.proc.Stdin()
	if err != nil {
		nc.Reject(ssh.Prohibited, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	var closeAsked atomic.Bool
	go func() {
		for r := range reqs {
			ok := r.Type == proto.ReqStdinEOF
			if ok {
				closeAsked.Store(true)
			}
			if r.WantReply {
				_ = r.Reply(ok, nil)
			}
		}
	}()
	_, err = io.Copy(w, ch)
	// Only an EOF the host asked for closes stdin: a connection that
	// broke (vchd killed) also reads as EOF, and the process must keep
	// its stdin for the next vchd's attach.
	if err == nil && closeOnEOF && closeAsked.Load() {
		w.Close()
	}
	ch.Close()
}

// portConn makes the port a net.Conn for one SSH session. Close does not
// close the port, which outlives every session; it ends this session's
// use of it, so that a late write of a finished session (a reply or a
// channel close still in flight in the SSH library) fails instead of
// landing in the next session's handshake.
type portConn struct {
	rw     io.ReadWriter
	closed atomic.Bool
}

func (p *portConn) Read(b []byte) (int, error) {
	if p.closed.Load() {
		return 0, net.ErrClosed
	}
	return p.rw.Read(b)
}

func (p *portConn) Write(b []byte) (int, error) {
	if p.closed.Load() {
		return 0, net.ErrClosed
	}
	return p.rw.Write(b)
}

func (p *portConn) Close() error {
	p.closed.Store(true)
	return nil
}
func (p *portConn) LocalAddr() net.Addr              { return portAddr{} }
func (p *portConn) RemoteAddr() net.Addr             { return portAddr{} }
func (p *portConn) SetDeadline(time.Time) error      { return nil }
func (p *portConn) SetReadDeadline(time.Time) error  { return nil }
func (p *portConn) SetWriteDeadline(time.Time) error { return nil }

type portAddr struct{}

func (portAddr) Network() string { return "virtio-serial" }
func (portAddr) String() string  { return proto.PortControl }
