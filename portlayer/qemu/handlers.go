package qemu

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"

	"go.uber.org/zap"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// Step names of DefaultHandlers.
const (
	StepImage       = "image"
	StepNetwork     = "network"
	StepConfigDisk  = "config-disk"
	StepLaunch      = "launch"
	StepAwaitTether = "await-tether"
)

// Handler is one named step of a start.
type Handler struct {
	Name string
	Fn   func(ctx context.Context, b *Boot) error
}

// HandlerList is an ordered list of start steps. Its methods return a new
// list and leave the receiver unchanged.
type HandlerList struct{ list []Handler }

// NewHandlerList returns a list of hs in order.
func NewHandlerList(hs ...Handler) HandlerList {
	return HandlerList{list: append([]Handler(nil), hs...)}
}

// Names lists the step names in order.
func (l HandlerList) Names() []string {
	names := make([]string, len(l.list))
	for i, h := range l.list {
		names[i] = h.Name
	}
	return names
}

// Append adds steps at the end.
func (l HandlerList) Append(hs ...Handler) HandlerList {
	return HandlerList{list: append(append([]Handler(nil), l.list...), hs...)}
}

// Swap replaces every step named h.Name by h.
func (l HandlerList) Swap(h Handler) HandlerList {
	out := append([]Handler(nil), l.list...)
	for i := range out {
		if out[i].Name == h.Name {
			out[i] = h
		}
	}
	return HandlerList{list: out}
}

// InsertAfter inserts h after the step named after (at the end if absent).
func (l HandlerList) InsertAfter(after string, h Handler) HandlerList {
	out := make([]Handler, 0, len(l.list)+1)
	done := false
	for _, x := range l.list {
		out = append(out, x)
		if x.Name == after && !done {
			out = append(out, h)
			done = true
		}
	}
	if !done {
		out = append(out, h)
	}
	return HandlerList{list: out}
}

// Remove drops every step named name.
func (l HandlerList) Remove(name string) HandlerList {
	var out []Handler
	for _, x := range l.list {
		if x.Name != name {
			out = append(out, x)
		}
	}
	return HandlerList{list: out}
}

// run runs the steps in order; at the first failure it unwinds b's undo
// stack and returns that step's error unchanged.
func (l HandlerList) run(ctx context.Context, b *Boot) error {
	for _, h := range l.list {
		if err := h.Fn(ctx, b); err != nil {
			b.log.Warn("start step failed", zap.String("step", h.Name), zap.Error(err))
			if uerr := b.unwind(); uerr != nil {
				b.log.Warn("start undo", zap.Error(uerr))
			}
			return err
		}
		b.log.Debug("start step done", zap.String("step", h.Name))
	}
	b.undo = nil
	return nil
}

// Boot is the state of one start, shared by its steps.
type Boot struct {
	p   *Provider
	v   *vm
	log *zap.Logger

	imagePath   string
	volumeDisks []volumeDisk
	shares      []fsShare // virtiofs shares (volumes.go)
	daemons     []Process // their virtiofsds (virtiofs.go)
	roBinds     []string  // read-only host views they serve
	volumes     []proto.VolumeMount
	tmpfs       []proto.TmpfsMount
	nics        []compute.NIC
	spares      []compute.NIC // parked NICs for network connect (MAC only)
	taps        []*os.File    // fds QEMU inherits, one per NIC and spare; closed after launch
	hostKey     ed25519.PublicKey
	run         *runState
	clone       *clone // set when this start restores a template (template.go)
	undo        []func() error
	// maintenance: boot without the container's process (maintenance.go).
	maintenance bool
}

// ID is the container's id.
func (b *Boot) ID() string { return b.v.id }

// Dir is the container's state directory.
func (b *Boot) Dir() string { return b.v.dir }

// PushUndo registers fn to run, in reverse order of registration, if a
// later step fails.
func (b *Boot) PushUndo(fn func() error) { b.undo = append(b.undo, fn) }

func (b *Boot) unwind() error {
	var errs []error
	for i := len(b.undo) - 1; i >= 0; i-- {
		if err := b.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	b.undo = nil
	return errors.Join(errs...)
}
