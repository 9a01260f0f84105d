package vscompute

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
)

// Start records the start, sizes the VM from its definition and powers it
// on. A failed power on is recorded as an exited run with its error and
// returned with its class (vsession.Classify; a task that never finishes
// is ErrUnavailable).
//
// A maintenance boot of the container (docker cp) is waited for first.
func (p *Provider) Start(ctx context.Context, id string) error {
	return p.afterMaintenance(ctx, id, p.start)
}

// afterMaintenance runs op once no maintenance boot of id runs, again
// when one began between the wait and op's claim (op returns errMaint).
func (p *Provider) afterMaintenance(ctx context.Context, id string, op func(context.Context, string) error) error {
	for {
		if err := p.awaitMaintenance(ctx, id); err != nil {
			return err
		}
		if err := op(ctx, id); !errors.Is(err, errMaint) {
			return err
		}
	}
}

func (p *Provider) start(ctx context.Context, id string) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	if err := p.sweepMaintenance(ctx, c); err != nil {
		return err
	}
	if c.maint {
		// A maintenance boot began after the wait.
		return fmt.Errorf("container %s: %w", id, errMaint)
	}
	if c.power == types.VirtualMachinePowerStatePoweredOn && c.processEnded() {
		// The process ended and the VM is not off yet: finish that.
		if err := p.powerOffIfOn(ctx, c); err != nil {
			return err
		}
		c.power = types.VirtualMachinePowerStatePoweredOff
	}
	switch c.power {
	case types.VirtualMachinePowerStatePoweredOn:
		return fmt.Errorf("container %s is already running: %w", id, errdefs.ErrNotModified)
	case types.VirtualMachinePowerStateSuspended:
		return errdefs.Conflict(fmt.Sprintf("container %s is paused, unpause the container before stopping or killing", id))
	}
	if err := p.claim(id); err != nil {
		return err
	}
	defer p.release(id)
	unlock := p.lockRec(id)
	defer func() { unlock() }()
	now := time.Now().UTC()
	c.rec = record{Running: true, StartedAt: now, Boot: []compute.Step{{Name: "launch", At: now}}}
	var events <-chan tevent
	if p.hub != nil {
		if c.rec.LogStart, err = tetherlink.FileSize(p.hub.logPath(id)); err != nil {
			return fmt.Errorf("container %s: log: %w", id, err)
		}
		var cancel func()
		events, cancel = p.hub.subscribe(id)
		defer cancel()
	}
	var nics []compute.NIC
	if p.cfg.Network != nil {
		if nics, err = p.cfg.Network.Attach(ctx, id); err != nil {
			p.failedStart(ctx, c, err, 128)
			return err
		}
	}
	nicChanges, err := p.nicChanges(ctx, c, nics)
	if err != nil {
		p.failedStart(ctx, c, err, 128)
		return err
	}
	nicsVal, err := encode(nics)
	if err != nil {
		return err
	}
	cpus, mem := int32(p.cpus(c.spec)), p.memory(c.spec)
	if err := p.writeRecord(ctx, c, func(cs *types.VirtualMachineConfigSpec) {
		cs.NumCPUs, cs.MemoryMB = cpus, mem
		cs.DeviceChange = nicChanges
		cs.ExtraConfig = append(cs.ExtraConfig, &types.OptionValue{Key: KeyNICs, Value: nicsVal})
	}); err != nil {
		p.failedStart(ctx, c, err, 128)
		return err
	}
	unlockVols, err := p.volumesFree(ctx, c)
	if err != nil {
		p.failedStart(ctx, c, err, 128)
		return err
	}
	vmo := object.NewVirtualMachine(p.s.Client, c.ref)
	task, err := vmo.PowerOn(ctx)
	if err == nil {
		err = p.s.Wait(ctx, "container "+id+": power on", task)
	} else {
		err = fmt.Errorf("container %s: power on: %w", id, vsession.Classify(err))
	}
	unlockVols()
	if err != nil {
		p.failedStart(ctx, c, err, 128)
		return err
	}
	c.rec.Boot = append(c.rec.Boot, compute.Step{Name: "powered-on", At: time.Now().UTC()})
	if events != nil {
		pid, err := p.awaitTether(ctx, id, events)
		if err != nil {
			code := 128
			if pid != 0 {
				code = pid // the tether's exit code for the failure
			}
			p.failedStart(ctx, c, err, code)
			return err
		}
		c.rec.GuestPid = pid
		c.rec.Boot = append(c.rec.Boot, compute.Step{Name: "process-started", At: time.Now().UTC()})
	}
	if err := p.writeRecord(ctx, c); err != nil {
		p.log.Warn("boot step not recorded", zap.String("id", id), zap.Error(err))
	}
	return nil
}

// failedStart records a start that did not power the VM on, and makes
// sure it is off (a task that timed out may still complete).
func (p *Provider) failedStart(ctx context.Context, c *vm, cause error, code int) {
	ctx = context.WithoutCancel(ctx)
	if now, err := p.get(ctx, c.ref); err == nil && now.power == types.VirtualMachinePowerStatePoweredOn {
		if task, err := object.NewVirtualMachine(p.s.Client, c.ref).PowerOff(ctx); err == nil {
			_ = p.s.Wait(ctx, "container "+c.spec.ID+": power off after a failed start", task)
		}
	}
	p.detach(ctx, c.spec.ID)
	c.rec.Running = false
	c.rec.Exited = true
	c.rec.ExitCode = code
	c.rec.Error = cause.Error()
	c.rec.FinishedAt = time.Now().UTC()
	if err := p.writeRecord(ctx, c); err != nil {
		p.log.Warn("failed start not recorded", zap.String("id", c.spec.ID), zap.Error(err))
	}
}

// Kill powers the VM off now: exit code 137.
func (p *Provider) Kill(ctx context.Context, id string) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	if c.power == types.VirtualMachinePowerStatePoweredOff {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not running", id))
	}
	if c.processEnded() {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not running", id))
	}
	if err := p.claim(id); err != nil {
		return err
	}
	defer p.release(id)
	if err := p.powerOffIfOn(ctx, c); err != nil {
		return fmt.Errorf("container %s: power off: %w", id, err)
	}
	p.detach(ctx, id)
	if p.hub != nil {
		p.hub.dropControl(id)
	}
	unlock := p.lockRec(id)
	defer unlock()
	if now, err := p.get(ctx, c.ref); err == nil {
		c = now // the tether may have recorded the exit meanwhile
	}
	c.rec.Running = false
	if !c.rec.Exited || c.rec.FinishedAt.Before(c.rec.StartedAt) {
		c.rec.Exited, c.rec.ExitCode = true, 137
	}
	c.rec.FinishedAt = time.Now().UTC()
	c.rec.GuestPid = 0
	c.rec.Boot = append(c.rec.Boot, compute.Step{Name: "powered-off", At: c.rec.FinishedAt})
	return p.writeRecord(context.WithoutCancel(ctx), c)
}

// Pause suspends the VM; Unpause powers it on again.
func (p *Provider) Pause(ctx context.Context, id string) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	if c.power != types.VirtualMachinePowerStatePoweredOn {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not running", id))
	}
	task, err := object.NewVirtualMachine(p.s.Client, c.ref).Suspend(ctx)
	if err != nil {
		return fmt.Errorf("container %s: suspend: %w", id, vsession.Classify(err))
	}
	return p.s.Wait(ctx, "container "+id+": suspend", task)
}

// Unpause resumes a suspended VM.
func (p *Provider) Unpause(ctx context.Context, id string) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	if c.power != types.VirtualMachinePowerStateSuspended {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not paused", id))
	}
	task, err := object.NewVirtualMachine(p.s.Client, c.ref).PowerOn(ctx)
	if err != nil {
		return fmt.Errorf("container %s: resume: %w", id, vsession.Classify(err))
	}
	return p.s.Wait(ctx, "container "+id+": resume", task)
}

// Waiters counts Wait calls blocked on id (see computetest).
func (p *Provider) Waiters(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiters[id]
}

// Wait follows the VM's power state through the PropertyCollector.
func (p *Provider) Wait(ctx context.Context, id string, cond compute.WaitCondition) (compute.Status, error) {
	c, err := p.find(ctx, id)
	if err != nil {
		return compute.Status{}, err
	}
	p.mu.Lock()
	p.waiters[id]++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.waiters[id]--; p.waiters[id] == 0 {
			delete(p.waiters, id)
		}
		p.mu.Unlock()
	}()
	switch cond {
	case compute.WaitRemoved:
		return p.pollRemoved(ctx, c)
	case compute.WaitNextExit:
		if p.hub != nil && c.status().State != compute.StateRunning {
			started := c.rec.StartedAt
			for {
				now, err := p.get(ctx, c.ref)
				if err != nil {
					return compute.Status{}, err
				}
				if now.rec.StartedAt.After(started) {
					break
				}
				select {
				case <-ctx.Done():
					return compute.Status{}, ctx.Err()
				case <-time.After(statePoll):
				}
			}
		} else if c.power == types.VirtualMachinePowerStatePoweredOff {
			if err := p.waitPower(ctx, c.ref, func(s types.VirtualMachinePowerState) bool { return s != types.VirtualMachinePowerStatePoweredOff }); err != nil {
				return compute.Status{}, err
			}
		}
	}
	if p.hub != nil {
		// The process's end is known before the VM is off (the tether
		// reports it; the simulator follows the container late).
		return p.pollNotRunning(ctx, c.ref)
	}
	if err := p.waitPower(ctx, c.ref, func(s types.VirtualMachinePowerState) bool { return s == types.VirtualMachinePowerStatePoweredOff }); err != nil {
		return compute.Status{}, err
	}
	// The power state changes before Kill records the exit; wait for the
	// record too (bounded: a VM powered off by someone else has none).
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, err := p.get(ctx, c.ref)
		if err != nil {
			return compute.Status{}, err
		}
		if !now.rec.Running || time.Now().After(deadline) {
			return now.status(), nil
		}
		if err := p.waitChange(ctx, c.ref, KeyStatus); err != nil {
			return compute.Status{}, err
		}
	}
}

// statePoll is how often Wait reads a container's state; recordGrace
// bounds the wait for the exit record of a VM that is off.
const (
	statePoll   = 200 * time.Millisecond
	recordGrace = 30 * time.Second
)

// pollRemoved reads the VM until it is gone and returns its status before
// the removal (docker run --rm waits for removal and reports the exit
// code of the run before it): as Remove read it just before destroying
// the VM, or else (a removal by someone else) the last one read here.
func (p *Provider) pollRemoved(ctx context.Context, c *vm) (compute.Status, error) {
	last := c.status()
	for {
		now, err := p.get(ctx, c.ref)
		if errdefs.IsNotFound(err) {
			if st, ok := p.removedStatus(c.spec.ID); ok {
				return st, nil
			}
			return last, nil
		}
		if err != nil {
			return compute.Status{}, err
		}
		last = now.status()
		select {
		case <-ctx.Done():
			return compute.Status{}, ctx.Err()
		case <-time.After(statePoll):
		}
	}
}

// pollNotRunning reads the VM until its container is not running.
func (p *Provider) pollNotRunning(ctx context.Context, ref types.ManagedObjectReference) (compute.Status, error) {
	var offSince time.Time
	for {
		now, err := p.get(ctx, ref)
		if err != nil {
			return compute.Status{}, err
		}
		st := now.status()
		// Off, but the exit not recorded yet (Kill records it after the
		// power off; the tether's exit event may trail the simulator's
		// power state): give the record a bounded while.
		pending := now.power == types.VirtualMachinePowerStatePoweredOff && now.rec.Running && !now.rec.Exited
		if pending && offSince.IsZero() {
			offSince = time.Now()
		}
		if st.State != compute.StateRunning && (!pending || time.Since(offSince) > recordGrace) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return compute.Status{}, ctx.Err()
		case <-time.After(statePoll):
		}
	}
}

// waitPower blocks until done(powerState) or the VM is gone (NotFound).
func (p *Provider) waitPower(ctx context.Context, ref types.ManagedObjectReference, done func(types.VirtualMachinePowerState) bool) error {
	pc := property.DefaultCollector(p.s.Client)
	err := property.Wait(ctx, pc, ref, []string{"runtime.powerState"}, func(changes []types.PropertyChange) bool {
		for _, ch := range changes {
			if ch.Op == types.PropertyChangeOpRemove {
				return true
			}
			if s, ok := ch.Val.(types.VirtualMachinePowerState); ok && done(s) {
				return true
			}
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("VM %s: %w", ref.Value, vsession.Classify(err))
	}
	if _, err := p.get(ctx, ref); errdefs.IsNotFound(err) {
		return err
	}
	return nil
}

// waitChange returns after the next change of an extraConfig key (or at
// most a second later: extraConfig changes are reported as a whole).
func (p *Provider) waitChange(ctx context.Context, ref types.ManagedObjectReference, _ string) error {
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	pc := property.DefaultCollector(p.s.Client)
	first := true
	err := property.Wait(wctx, pc, ref, []string{"config.extraConfig"}, func([]types.PropertyChange) bool {
		if first { // the initial state
			first = false
			return false
		}
		return true
	})
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return nil
	}
	return err
}

// volumesFree fails with compute.ErrVolumeInUse when another of the VCH's
// VMs that is on holds one of c's volume disks: a volume VMDK is attached
// to every VM that mounts it, and ESXi locks it for the one that powers
// on first (the second power on fails on the lock, a fault the simulator
// does not raise). A VM whose process ended is powered off first (its
// run is over). On success it returns with the volume lock held, which
// the caller releases once its power on is done, so two starts cannot
// both pass the check.
func (p *Provider) volumesFree(ctx context.Context, c *vm) (func(), error) {
	if len(c.spec.Mounts) == 0 {
		return func() {}, nil
	}
	want := map[string]bool{}
	for _, m := range c.spec.Mounts {
		if m.Volume != "" {
			want[m.Volume] = true
		}
	}
	p.volMu.Lock()
	all, err := p.list(ctx)
	if err != nil {
		p.volMu.Unlock()
		return nil, err
	}
	for _, o := range all {
		if o.spec.ID == c.spec.ID || o.power != types.VirtualMachinePowerStatePoweredOn {
			continue
		}
		held := ""
		for _, m := range o.spec.Mounts {
			if want[m.Volume] {
				held = m.Volume
				break
			}
		}
		if held == "" {
			continue
		}
		if o.processEnded() && !o.maint {
			if err := p.powerOffIfOn(ctx, o); err != nil {
				p.volMu.Unlock()
				return nil, fmt.Errorf("container %s: power off its ended run, which holds volume %s: %w", o.spec.ID, held, err)
			}
			continue
		}
		p.volMu.Unlock()
		return nil, fmt.Errorf("volume %s is in use by running container %s; stop it first: %w", held, o.spec.ID[:12], compute.ErrVolumeInUse)
	}
	return p.volMu.Unlock, nil
}
