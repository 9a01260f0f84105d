package qemu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

// monitorPoll is how often a monitor reads new log records.
const monitorPoll = 10 * time.Millisecond

// runState is one run of a VM, from launch until its exit is handled.
type runState struct {
	p        *Provider
	v        *vm
	proc     Process
	logStart int64
	hostKey  string // authorized_keys form of the tether's SSH host key

	started chan struct{} // closed at EventStarted
	failed  chan struct{} // closed at EventError
	done    chan struct{} // closed once the exit was handled (or detached)
	detachC chan struct{}
	detachO sync.Once

	// Guarded by Provider.mu.
	isStarted bool
	isFailed  bool
	exitCode  *int // from EventExited
	errMsg    string
	errCode   int
	stopErr   string    // why the host stopped a failed start
	lastAt    time.Time // stamp of the last event applied

	ctl controlConn

	qmpMu sync.Mutex // one QMP client at a time (pause, unpause)
	// frozen: the tether stopped the container's processes before this
	// vchd paused the VM (guarded by qmpMu), so an archive call may run
	// the VM for a while (pause.go).
	frozen bool
}

func newRunState(p *Provider, v *vm, proc Process, logStart int64, hostKey string) *runState {
	return &runState{
		p: p, v: v, proc: proc, logStart: logStart, hostKey: hostKey,
		started: make(chan struct{}),
		failed:  make(chan struct{}),
		done:    make(chan struct{}),
		detachC: make(chan struct{}),
	}
}

// detach stops following the VM without touching it (Provider.Close).
func (r *runState) detach() { r.detachO.Do(func() { close(r.detachC) }) }

// monitor follows the run's log records and the VM process until the VM
// exits, then records the exit. backlog says the records already in the
// log were written while nobody watched (re-attach after a restart).
func (r *runState) monitor(backlog bool) {
	rd := tetherlink.NewRecordReader(filepath.Join(r.v.dir, fileLog), r.logStart)
	defer rd.Close()
	exited := make(chan struct{})
	go func() {
		r.proc.Wait()
		close(exited)
	}()
	tick := time.NewTicker(monitorPoll)
	defer tick.Stop()
	for {
		r.read(rd, backlog)
		backlog = false
		select {
		case <-exited:
			r.read(rd, false)
			r.dropPartial(rd)
			r.finish()
			return
		case <-r.detachC:
			r.ctl.close()
			close(r.done)
			return
		case <-tick.C:
		}
	}
}

func (r *runState) read(rd *tetherlink.RecordReader, backlog bool) {
	recs, err := rd.Poll()
	if err != nil {
		r.p.log.Warn("read log records", zap.String("id", r.v.id), zap.Error(err))
		return
	}
	for _, rec := range recs {
		if rec.Kind != proto.KindEvent {
			continue
		}
		var ev proto.Event
		if err := json.Unmarshal(rec.Data, &ev); err != nil {
			r.p.log.Warn("bad event record", zap.String("id", r.v.id), zap.Error(err))
			continue
		}
		at := r.p.clock.Now()
		if backlog {
			at = rec.Time
		}
		r.event(ev, at)
	}
}

// event applies one tether event to the VM's status.
func (r *runState) event(ev proto.Event, at time.Time) {
	p, v := r.p, r.v
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log.Debug("tether event", zap.String("id", v.id), zap.String("event", ev.Name))
	r.lastAt = at
	if ev.Name != proto.EventSize && !hasStep(v.rec.Boot, ev.Name) {
		v.rec.Boot = append(v.rec.Boot, compute.Step{Name: ev.Name, At: at})
	}
	switch ev.Name {
	case proto.EventStarted:
		if !r.isStarted {
			r.isStarted = true
			v.rec.State = compute.StateRunning
			v.rec.StartedAt = at
			v.rec.Pid = r.proc.Pid()
			v.rec.ExitCode = 0
			v.rec.Error = ""
			p.persist(v)
			close(r.started)
		}
	case proto.EventExited:
		code := ev.ExitCode
		r.exitCode = &code
	case proto.EventSize:
		v.rec.Sizes = &compute.Sizes{RW: ev.Size}
	case proto.EventError:
		if !r.isFailed {
			r.isFailed = true
			r.errMsg = ev.Error
			r.errCode = ev.ExitCode
			close(r.failed)
		}
	}
	v.changed()
}

// dropPartial cuts a record the VM could not finish writing off the end
// of the log (QEMU is gone, nobody writes), so the next run's records start
// on a record boundary.
func (r *runState) dropPartial(rd *tetherlink.RecordReader) {
	if rd.Pending() == 0 {
		return
	}
	path := filepath.Join(r.v.dir, fileLog)
	r.p.log.Warn("dropping a partial log record", zap.String("id", r.v.id), zap.Int("bytes", rd.Pending()))
	if err := os.Truncate(path, rd.PendingOffset()); err != nil {
		r.p.log.Warn("truncate log", zap.String("id", r.v.id), zap.Error(err))
	}
}

// finish records the VM's exit.
func (r *runState) finish() {
	p, v := r.p, r.v
	r.ctl.close()
	for _, f := range []string{fileCtl, fileQMP, filePid, fileConfig} {
		if err := os.Remove(filepath.Join(v.dir, f)); err != nil && !os.IsNotExist(err) {
			p.log.Warn("clean up after VM exit", zap.String("id", v.id), zap.Error(err))
		}
	}
	// The network lets go (address, port bindings) before anyone sees
	// the exit, so a stop that returned has freed its ports.
	p.detachNetwork(v.id)
	p.mu.Lock()
	code, msg := exitStatus(r.exitCode, r.isFailed, r.errCode, r.errMsg)
	if msg == "" {
		msg = r.stopErr
	}
	now := p.clock.Now()
	if _, dead := r.proc.(deadProcess); dead && r.lastAt.After(v.rec.StartedAt) {
		// Found dead after a restart: the guest's last event is closer to
		// when it ended than the time we noticed.
		now = r.lastAt
	}
	v.rec.State = compute.StateExited
	v.rec.Paused = false
	v.rec.ExitCode = code
	v.rec.Error = msg
	v.rec.FinishedAt = now
	v.rec.Pid = 0
	v.rec.Launched = false
	v.rec.HostKey = ""
	v.rec.Boot = append(v.rec.Boot, compute.Step{Name: "vm-exited", At: now})
	v.run = nil
	v.exits++
	p.persist(v)
	v.changed()
	p.mu.Unlock()
	p.log.Info("container VM exited", zap.String("id", v.id), zap.Int("exitCode", code))
	close(r.done)
}

// exitStatus decides a run's exit code: the process's own if the tether
// reported it, the start failure's if it could not start, else 137 (the VM
// was powered off under it).
func exitStatus(exited *int, failed bool, errCode int, errMsg string) (int, string) {
	switch {
	case exited != nil:
		return *exited, ""
	case failed:
		if errCode == 0 {
			errCode = 128
		}
		return errCode, errMsg
	default:
		return 137, ""
	}
}

// hasStep tells whether a boot step of that name was recorded (a re-read
// of the log after a restart must not repeat steps).
func hasStep(steps []compute.Step, name string) bool {
	for _, s := range steps {
		if s.Name == name {
			return true
		}
	}
	return false
}
