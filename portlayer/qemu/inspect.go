package qemu

import (
	"context"
	"sort"

	"github.com/vchproject/vch/portlayer/compute"
)

// Inspect returns the definition and status of id.
func (p *Provider) Inspect(ctx context.Context, id string) (compute.Container, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.lookup(id)
	if err != nil {
		return compute.Container{}, err
	}
	return copyContainer(v), nil
}

// List returns every container, ordered by id.
func (p *Provider) List(ctx context.Context) ([]compute.Container, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]compute.Container, 0, len(p.vms))
	for _, v := range p.vms {
		if !v.removed {
			out = append(out, copyContainer(v))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.ID < out[j].Spec.ID })
	return out, nil
}
