// Package fake is an in-memory volume.Provider for tests of the layers
// above the port layer. It passes volumetest; a volume is a plain directory
// under its store's path, made at the first Attach, without a capacity.
package fake

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/volume"
)

// Provider keeps volumes in memory.
type Provider struct {
	stores map[string]volume.Store
	order  []volume.Store

	mu   sync.Mutex
	vols map[string]volume.Volume
}

var _ volume.Provider = (*Provider)(nil)

// New returns an empty provider over stores.
func New(stores []volume.Store) *Provider {
	p := &Provider{stores: map[string]volume.Store{}, vols: map[string]volume.Volume{}}
	for _, s := range stores {
		p.stores[s.Label] = s
		p.order = append(p.order, s)
	}
	return p
}

// Stores lists the stores.
func (p *Provider) Stores() []volume.Store { return append([]volume.Store(nil), p.order...) }

// Create records a volume.
func (p *Provider) Create(ctx context.Context, opts volume.CreateOptions) (volume.Volume, error) {
	opts, err := volume.Normalize(opts)
	if err != nil {
		return volume.Volume{}, err
	}
	s, ok := p.stores[opts.Store]
	if !ok {
		return volume.Volume{}, volume.UnknownStore(opts.Store)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.vols[opts.Name]; ok {
		return volume.Volume{}, fmt.Errorf("volume %s: %w", opts.Name, errdefs.ErrAlreadyExists)
	}
	v := volume.Volume{Name: opts.Name, Store: s.Label, Capacity: opts.Capacity, Labels: opts.Labels,
		Options: opts.Options, Created: time.Now().UTC().Truncate(time.Second), Location: s.Path + "/" + opts.Name, Shared: true}
	p.vols[v.Name] = v
	return v, nil
}

// Get returns one volume.
func (p *Provider) Get(ctx context.Context, name string) (volume.Volume, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.vols[name]
	if !ok {
		return volume.Volume{}, volume.NotFound(name)
	}
	return v, nil
}

// List returns the volumes sorted by name.
func (p *Provider) List(ctx context.Context) ([]volume.Volume, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]volume.Volume, 0, len(p.vols))
	for _, v := range p.vols {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Attach makes the volume's directory (under its store's path) and
// returns it. The fake does not enforce capacity.
func (p *Provider) Attach(ctx context.Context, name string) (volume.Attachment, error) {
	v, err := p.Get(ctx, name)
	if err != nil {
		return volume.Attachment{}, err
	}
	if err := os.MkdirAll(v.Location, 0o700); err != nil {
		return volume.Attachment{}, fmt.Errorf("volume %s: %w", name, err)
	}
	return volume.Attachment{Dir: v.Location}, nil
}

// Remove forgets a volume.
func (p *Provider) Remove(ctx context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.vols[name]
	if !ok {
		return volume.NotFound(name)
	}
	delete(p.vols, name)
	if err := os.RemoveAll(v.Location); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}
