package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// Provider runs container VMs as local QEMU processes.
type Provider struct {
	cfg       Config
	log       *zap.Logger
	runner    ProcessRunner
	clock     Clock
	dial      Dialer
	handlers  HandlerList
	probeKVM  func(ctx context.Context) error
	kvmDevice string
	tpl       *templates // nil unless Config.Templates

	accelMu sync.Mutex
	accel   string // resolved accelerator, "" until first needed
	tscOnce sync.Once
	tsc     int

	mu     sync.Mutex
	plugMu sync.Mutex // serialises PlugNIC and UnplugNIC (choice of a spare)
	vms    map[string]*vm
	closed bool
}

var _ compute.Provider = (*Provider)(nil)

// vm is the in-memory mirror of one container directory. Fields are
// guarded by Provider.mu.
type vm struct {
	id, dir  string
	spec     compute.Spec
	rec      record
	starting bool
	removed  bool
	run      *runState // from launch until the VM's exit is handled
	exits    int       // runs ended since this Provider was made
	waiters  int       // Wait calls blocked on this vm
	notify   chan struct{}
	maint    *maintVM   // a maintenance VM has the disks (maintenance.go)
	maintMu  sync.Mutex // serializes maintenance boots; not guarded by Provider.mu
}

// changed wakes everyone waiting on v. Call with Provider.mu held.
func (v *vm) changed() {
	close(v.notify)
	v.notify = make(chan struct{})
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// New opens (or creates) the state under cfg.Root, re-attaches to VMs that
// are still running and marks the others exited.
func New(cfg Config, opts ...Option) (*Provider, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("qemu provider root: %w", err)
	}
	cfg.Root = root
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("qemu provider root: %w", err)
	}
	p := &Provider{
		cfg:       cfg,
		log:       cfg.Logger,
		runner:    execRunner{},
		clock:     wallClock{},
		dial:      dialUnix,
		vms:       map[string]*vm{},
		kvmDevice: "/dev/kvm",
	}
	p.handlers = p.DefaultHandlers()
	if cfg.Templates {
		p.tpl = newTemplates(p)
		p.tpl.sweep()
		p.handlers = p.handlers.Swap(Handler{Name: StepLaunch, Fn: stepLaunchOrClone})
	}
	p.probeKVM = p.probeBoot
	for _, o := range opts {
		o(p)
	}
	if cfg.TSCkHz > 0 {
		p.tscOnce.Do(func() { p.tsc = cfg.TSCkHz })
	}
	if err := p.recover(); err != nil {
		return nil, err
	}
	if p.tpl != nil {
		// The default shape's template (on a network, when there is one)
		// is made ahead of time, so the first start is already a clone.
		shape := templateShape{CPUs: cfg.CPUs, MemoryMB: cfg.MemoryMB}
		if cfg.Network != nil {
			shape.NICs = compute.MaxNICs
		}
		p.tpl.prebuild(shape)
	}
	return p, nil
}

// Close detaches from the running VMs without stopping them, as vchd does
// when it exits; a later New on the same Root re-attaches.
func (p *Provider) Close() error {
	p.settleAllMaint()
	if p.tpl != nil {
		p.tpl.close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	for _, v := range p.vms {
		if v.run != nil {
			v.run.detach()
		}
	}
	return nil
}

func notFound(id string) error {
	return errdefs.NotFound("No such container: " + id)
}

// lookup returns the live vm of id. Call with p.mu held.
func (p *Provider) lookup(id string) (*vm, error) {
	v, ok := p.vms[id]
	if !ok || v.removed {
		return nil, notFound(id)
	}
	return v, nil
}

// persist writes v's status.json. Call with p.mu held.
func (p *Provider) persist(v *vm) {
	if v.removed {
		return
	}
	if err := saveRecord(v.dir, &v.rec); err != nil {
		p.log.Error("persist status", zap.String("id", v.id), zap.Error(err))
	}
}

func (p *Provider) tscKHz(ctx context.Context) int {
	p.tscOnce.Do(func() { p.tsc = hostTSCkHz(ctx) })
	return p.tsc
}

func copyContainer(v *vm) compute.Container {
	c := compute.Container{Spec: v.spec, Status: v.rec.Status}
	c.Spec.Meta = append([]byte(nil), v.spec.Meta...)
	c.Spec.Process.Args = append([]string(nil), v.spec.Process.Args...)
	c.Spec.Process.Env = append([]string(nil), v.spec.Process.Env...)
	c.Status.Boot = append([]compute.Step(nil), v.rec.Boot...)
	return c
}
