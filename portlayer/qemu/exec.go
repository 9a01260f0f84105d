package qemu

import (
	"context"
	"fmt"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
)

// Exec starts cfg in the running VM id: one new proto.ChanExec channel on
// the VM's control connection. It returns once the tether reports the
// process started (or why it could not).
func (p *Provider) Exec(ctx context.Context, id string, cfg compute.ExecConfig) (compute.ExecProcess, error) {
	if cfg.Height > 0xffff || cfg.Width > 0xffff {
		return nil, fmt.Errorf("tty size %dx%d: %w", cfg.Height, cfg.Width, errdefs.ErrInvalidParameter)
	}
	r, err := p.running(id)
	if err != nil {
		return nil, err
	}
	if p.isPaused(id) {
		return nil, pausedError(id)
	}
	client, err := r.ctl.get(ctx, r)
	if err != nil {
		return nil, err
	}
	return tetherlink.Exec(ctx, client, id, cfg)
}
