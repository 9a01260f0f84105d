package qemu

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
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
	b, err := json.Marshal(proto.TopRequest{Args: psArgs})
	if err != nil {
		return compute.TopResult{}, err
	}
	ok, reply, err := client.SendRequest(proto.ReqTop, true, b)
	if err != nil {
		return compute.TopResult{}, fmt.Errorf("container %s: top: %w", id, errdefs.ErrUnavailable)
	}
	if !ok {
		// The guest's ps refused the options (or could not read /proc).
		return compute.TopResult{}, errdefs.InvalidParameter(string(reply))
	}
	var tr proto.TopReply
	if err := json.Unmarshal(reply, &tr); err != nil {
		return compute.TopResult{}, fmt.Errorf("container %s: top reply: %w", id, err)
	}
	return compute.TopResult{Titles: tr.Titles, Processes: tr.Processes}, nil
}
