package qemu

import (
	"context"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
)

// Top asks the tether for the guest's process table (proto.ReqTop).
func (p *Provider) Top(ctx context.Context, id string, psArgs []string) (compute.TopResult, error) {
	r, err := p.running(id)
	if err != nil {
		return compute.TopResult{}, err
	}
	if p.isPaused(id) {
		return compute.TopResult{}, pausedError(id)
	}
	client, err := r.ctl.get(ctx, r)
	if err != nil {
		return compute.TopResult{}, err
	}
	return tetherlink.Top(client, id, psArgs)
}
