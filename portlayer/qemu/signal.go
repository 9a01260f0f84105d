package qemu

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

func notRunning(id string) error { return tetherlink.NotRunning(id) }

// running returns the current run of a running (not merely booting) VM.
func (p *Provider) running(id string) (*runState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.lookup(id)
	if err != nil {
		return nil, err
	}
	if v.run == nil || v.rec.State != compute.StateRunning {
		return nil, notRunning(id)
	}
	return v.run, nil
}

// request sends one global request to the tether of a running VM.
func (p *Provider) request(ctx context.Context, id, name string, payload any) error {
	r, err := p.running(id)
	if err != nil {
		return err
	}
	client, err := r.ctl.get(ctx, r)
	if err != nil {
		return err
	}
	_, err = tetherlink.Request(client, id, name, payload)
	return err
}

// Signal sends sig to the main process (through the tether).
func (p *Provider) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	// A paused guest cannot handle it: thaw it first, as docker does.
	if err := p.thawIfPaused(ctx, id); err != nil {
		return err
	}
	return p.request(ctx, id, proto.ReqSignal, proto.SignalRequest{Signal: int(sig)})
}

// Resize sets the main process's TTY size.
func (p *Provider) Resize(ctx context.Context, id string, height, width uint) error {
	if height > 0xffff || width > 0xffff {
		return fmt.Errorf("tty size %dx%d: %w", height, width, errdefs.ErrInvalidParameter)
	}
	return p.request(ctx, id, proto.ReqResize, proto.ResizeRequest{Rows: uint16(height), Cols: uint16(width)})
}

// killGrace is how long Kill waits for the tether to end the VM cleanly
// after SIGKILL of the main process, before it kills QEMU.
const killGrace = 15 * time.Second

// Kill ends the VM now and returns once its exit is recorded: 137 unless
// the process had already reported its own code. The tether first gets
// to SIGKILL the main process and power off cleanly (sync and unmount, so
// the writable layer and volumes keep what was written); a guest that
// does not end within killGrace, or cannot be asked, loses its QEMU
// process (SIGKILL).
func (p *Provider) Kill(ctx context.Context, id string) error {
	p.mu.Lock()
	v, err := p.lookup(id)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	r := v.run
	p.mu.Unlock()
	if r == nil {
		return notRunning(id)
	}
	sctx, cancel := context.WithTimeout(ctx, killGrace)
	err = p.Signal(sctx, id, syscall.SIGKILL)
	if err == nil {
		select {
		case <-r.done:
			cancel()
			return nil
		case <-sctx.Done():
		}
	}
	cancel()
	if err := r.proc.Kill(); err != nil {
		return fmt.Errorf("container %s: power off: %w", id, err)
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
