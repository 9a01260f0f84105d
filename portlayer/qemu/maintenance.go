package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

// A maintenance VM reaches the disks of a container that is not running
// (docker cp, diff): the container's own VM definition booted with
// proto.Config.Maintenance, so the tether mounts the image, the writable
// layer and the volumes exactly as for a run, serves archive sessions and
// starts no process. The host never mounts a disk a guest wrote.
//
// It has its own files in the container directory (maint-*), so the
// container's output log, status and exit code stay those of its last
// run. While it is up the container cannot start or be removed
// (ErrConflict) and its volumes count as held. It is powered off (the
// tether syncs and unmounts first) maintLinger after its last call, or at
// once when the container starts or is removed, another container wants
// one of its volumes, or vchd closes the provider.
const (
	fileMaintConfig  = "maint-config.img"
	fileMaintCtl     = "maint-ctl.sock"
	fileMaintQMP     = "maint-qmp.sock"
	fileMaintPid     = "maint-qemu.pid"
	fileMaintConsole = "maint-console.log"
	fileMaintLog     = "maint-output.log"
	fileMaintOut     = "maint-qemu.out"
)

// maintenanceOff bounds the clean power-off of a maintenance VM before it
// is killed.
const maintenanceOff = time.Minute

// maintLinger is how long an idle maintenance VM waits for the next call:
// one docker cp makes two or three (HEAD, then PUT or GET).
const maintLinger = 5 * time.Second

// maintVM is a booted (or booting) maintenance VM. Fields are guarded by
// Provider.mu.
type maintVM struct {
	client  *ssh.Client // nil while it boots
	off     func()
	users   int             // calls using it
	closing bool            // powering off
	idle    *time.Timer     // while users == 0: powers it off after maintLinger
	exited  <-chan struct{} // closed when its QEMU exited
	done    chan struct{}
}

// maintenance returns a control connection to v's maintenance VM,
// booting one unless one is up, and the function that ends the call's use
// of it.
func (p *Provider) maintenance(ctx context.Context, v *vm) (*ssh.Client, func(), error) {
	v.maintMu.Lock()
	defer v.maintMu.Unlock()
	for {
		p.mu.Lock()
		switch {
		case v.removed:
			p.mu.Unlock()
			return nil, nil, notFound(v.id)
		case v.run != nil || v.starting:
			p.mu.Unlock()
			return nil, nil, errdefs.Conflict(fmt.Sprintf("container %s started meanwhile", v.id))
		case p.closed:
			p.mu.Unlock()
			return nil, nil, fmt.Errorf("qemu provider closed: %w", errdefs.ErrUnavailable)
		}
		m := v.maint
		if m != nil && m.closing {
			p.mu.Unlock()
			<-m.done
			continue
		}
		if m != nil && m.users == 0 && exitedYet(m.exited) {
			// It died while idle: clean up, then boot a new one.
			p.mu.Unlock()
			p.closeMaint(v, m)
			<-m.done
			continue
		}
		if m != nil {
			if m.idle != nil {
				m.idle.Stop()
				m.idle = nil
			}
			m.users++
			p.mu.Unlock()
			return m.client, p.maintRelease(v, m), nil
		}
		m = &maintVM{users: 1, done: make(chan struct{})}
		v.maint = m
		p.mu.Unlock()
		client, off, exited, err := p.bootMaintenance(ctx, v)
		p.mu.Lock()
		if err != nil {
			v.maint = nil
			close(m.done)
			v.changed()
			p.mu.Unlock()
			return nil, nil, err
		}
		m.client, m.off, m.exited = client, off, exited
		p.mu.Unlock()
		return client, p.maintRelease(v, m), nil
	}
}

// maintRelease ends one call's use of m; the last one leaves it idle for
// maintLinger.
func (p *Provider) maintRelease(v *vm, m *maintVM) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if m.users--; m.users == 0 && !m.closing {
				m.idle = time.AfterFunc(maintLinger, func() { p.closeMaint(v, m) })
			}
		})
	}
}

// closeMaint powers m off if nobody uses it, measuring the writable
// layer first (ps -s).
func (p *Provider) closeMaint(v *vm, m *maintVM) {
	p.mu.Lock()
	if v.maint != m || m.closing || m.users > 0 || m.client == nil {
		p.mu.Unlock()
		return
	}
	m.closing = true
	if m.idle != nil {
		m.idle.Stop()
		m.idle = nil
	}
	p.mu.Unlock()
	if sz, err := tetherlink.QuerySizes(context.Background(), m.client, v.id); err == nil {
		p.rememberSizes(v.id, sz)
	}
	m.off()
	p.mu.Lock()
	v.maint = nil
	close(m.done)
	v.changed()
	p.mu.Unlock()
}

// settle powers off v's maintenance VM if it is idle (or waits for the
// one powering off); one in use is left alone.
func (p *Provider) settle(v *vm) {
	p.mu.Lock()
	m := v.maint
	if m == nil || m.users > 0 {
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.closeMaint(v, m)
	<-m.done
}

// settleMaintOf settles the maintenance VM of id (before a start or a
// remove, which an idle one must not refuse).
func (p *Provider) settleMaintOf(id string) {
	p.mu.Lock()
	v, ok := p.vms[id]
	p.mu.Unlock()
	if ok {
		p.settle(v)
	}
}

// settleMaintHolding settles the idle maintenance VMs of containers other
// than v that hold one of the volumes in want.
func (p *Provider) settleMaintHolding(v *vm, want map[string]bool) {
	var holders []*vm
	p.mu.Lock()
	for _, o := range p.vms {
		if o == v || o.maint == nil {
			continue
		}
		for _, m := range o.spec.Mounts {
			if want[m.Volume] {
				holders = append(holders, o)
				break
			}
		}
	}
	p.mu.Unlock()
	for _, o := range holders {
		p.settle(o)
	}
}

// settleAllMaint powers off every idle maintenance VM (Provider.Close:
// they must not outlive vchd).
func (p *Provider) settleAllMaint() {
	p.mu.Lock()
	var all []*vm
	for _, v := range p.vms {
		if v.maint != nil {
			all = append(all, v)
		}
	}
	p.mu.Unlock()
	for _, v := range all {
		p.settle(v)
	}
}

// bootMaintenance launches the maintenance VM and waits until the
// tether mounted the container's file systems and the control channel
// is up.
func (p *Provider) bootMaintenance(ctx context.Context, v *vm) (*ssh.Client, func(), <-chan struct{}, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	b := &Boot{p: p, v: v, log: p.log.With(zap.String("id", v.id), zap.Bool("maintenance", true)), maintenance: true}
	fail := func(err error) (*ssh.Client, func(), <-chan struct{}, error) {
		if uerr := b.unwind(); uerr != nil {
			b.log.Warn("maintenance undo", zap.Error(uerr))
		}
		return nil, nil, nil, err
	}
	for _, step := range []func(context.Context, *Boot) error{stepImage, stepVolumes, stepConfigDisk} {
		if err := step(ctx, b); err != nil {
			return fail(err)
		}
	}
	for _, f := range []string{fileMaintCtl, fileMaintQMP, fileMaintPid, fileMaintLog} {
		if err := removeIfExists(filepath.Join(v.dir, f)); err != nil {
			return fail(err)
		}
	}
	cpus, mem := v.spec.CPUs, v.spec.MemoryMB
	if cpus == 0 {
		cpus = p.cfg.CPUs
	}
	if mem == 0 {
		mem = p.cfg.MemoryMB
	}
	args := qemuArgs(launchSpec{
		Accel: p.accelerator(ctx), TBSizeMB: p.cfg.TBSizeMB, CPUs: cpus, MemoryMB: mem,
		Kernel: p.cfg.Kernel, Initrd: p.cfg.Initrd, TSCkHz: p.tscKHz(ctx), Extra: p.cfg.KernelArgs,
		Image: b.imagePath, RW: fileRW, Config: fileMaintConfig, Volumes: b.volumeDisks, Shares: b.shares,
		Ctl: fileMaintCtl, QMP: fileMaintQMP, PidFile: fileMaintPid, Console: fileMaintConsole, Log: fileMaintLog,
	})
	proc, err := p.runner.Start(ProcessSpec{Path: p.cfg.QEMU, Args: args, Dir: v.dir, Output: filepath.Join(v.dir, fileMaintOut)})
	if err != nil {
		return fail(err)
	}
	b.reapShares(proc)
	exited := make(chan struct{})
	go func() {
		proc.Wait()
		close(exited)
	}()
	kill := func() error {
		err := proc.Kill()
		<-exited
		return err
	}
	b.PushUndo(kill)
	b.log.Info("maintenance VM launched", zap.Int("pid", proc.Pid()))

	// Wait for EventMounted (or EventError, or the VM's end).
	rd := tetherlink.NewRecordReader(filepath.Join(v.dir, fileMaintLog), 0)
	defer rd.Close()
	tick := time.NewTicker(monitorPoll)
	defer tick.Stop()
	mounted := false
	for !mounted {
		recs, err := rd.Poll()
		if err != nil {
			return fail(err)
		}
		for _, rec := range recs {
			var ev proto.Event
			if rec.Kind != proto.KindEvent || json.Unmarshal(rec.Data, &ev) != nil {
				continue
			}
			switch ev.Name {
			case proto.EventMounted:
				mounted = true
			case proto.EventError:
				return fail(errdefs.InvalidParameter(fmt.Sprintf("container %s: %s", v.id, ev.Error)))
			}
		}
		if mounted {
			break
		}
		select {
		case <-exited:
			return fail(fmt.Errorf("container %s: maintenance VM exited during boot: %s", v.id, maintDiagnostics(v.dir)))
		case <-ctx.Done():
			return fail(fmt.Errorf("container %s: maintenance VM did not mount the file systems: %v: %w", v.id, ctx.Err(), errdefs.ErrUnavailable))
		case <-tick.C:
		}
	}
	pub, err := ssh.NewPublicKey(b.hostKey)
	if err != nil {
		return fail(err)
	}
	conn, err := p.dial(ctx, filepath.Join(v.dir, fileMaintCtl))
	if err != nil {
		return fail(fmt.Errorf("container %s: dial maintenance VM: %v: %w", v.id, err, errdefs.ErrUnavailable))
	}
	client, err := tetherlink.Handshake(ctx, conn, pub)
	if err != nil {
		conn.Close()
		return fail(fmt.Errorf("container %s: maintenance VM control channel: %w", v.id, err))
	}
	now, _ := json.Marshal(proto.TimeRequest{UnixNano: p.clock.Now().UnixNano()})
	_, _, _ = client.SendRequest(proto.ReqTime, true, now)
	b.undo = nil
	off := func() {
		if _, _, err := client.SendRequest(proto.ReqPowerOff, true, nil); err != nil {
			b.log.Warn("maintenance VM power off", zap.Error(err))
		}
		select {
		case <-exited:
		case <-time.After(maintenanceOff):
			b.log.Warn("maintenance VM did not power off; killing it")
			_ = kill()
		}
		client.Close()
		for _, f := range []string{fileMaintCtl, fileMaintQMP, fileMaintPid, fileMaintConfig} {
			_ = removeIfExists(filepath.Join(v.dir, f))
		}
		b.log.Info("maintenance VM off")
	}
	return client, off, exited, nil
}

// exitedYet tells whether c is closed (nil: no).
func exitedYet(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// killMaintenance kills a maintenance VM a previous vchd left running
// (it crashed during a docker cp): nothing may keep the disks.
func killMaintenance(dir, qemu string) {
	if proc := adoptPidFile(dir, fileMaintPid, qemu); proc != nil {
		_ = proc.Kill()
		proc.Wait()
	}
}

func maintDiagnostics(dir string) string {
	for _, f := range []string{fileMaintOut, fileMaintConsole} {
		if s := strings.TrimSpace(readTail(filepath.Join(dir, f))); s != "" {
			return s
		}
	}
	return "no output"
}

// readTail is the last 512 bytes of a file ("" if unreadable).
func readTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 512 {
		b = b[len(b)-512:]
	}
	return string(b)
}
