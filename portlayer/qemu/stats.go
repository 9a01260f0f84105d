package qemu

import (
	"context"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
)

// Stats asks the tether for the guest's counters (proto.ReqStats).
func (p *Provider) Stats(ctx context.Context, id string) (compute.Stats, error) {
	r, err := p.running(id)
	if err != nil {
		return compute.Stats{}, err
	}
	if p.isPaused(id) {
		return compute.Stats{}, pausedError(id)
	}
	client, err := r.ctl.get(ctx, r)
	if err != nil {
		return compute.Stats{}, err
	}
	return tetherlink.Stats(client, id)
}
