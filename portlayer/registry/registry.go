// Package registry picks a VCH's port-layer providers by name: image
// store, volume provider, network provider and compute provider, opened in
// that order (each may use those opened before it). cmd/vchd registers
// the implementations it links ("qemu", "local", "vsphere") and opens the
// ones the VCH's config names; nothing above the port layer knows which
// ones run.
package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/volume"
)

// Names chooses one implementation per kind; empty names take Defaults.
type Names struct {
	Compute string `json:"compute,omitempty"`
	Images  string `json:"images,omitempty"`
	Volumes string `json:"volumes,omitempty"`
	Network string `json:"network,omitempty"`
}

// Defaults are the providers of a VCH that names none.
var Defaults = Names{Compute: "qemu", Images: "local", Volumes: "local", Network: "local"}

// WithDefaults fills empty names from Defaults.
func (n Names) WithDefaults() Names {
	pick := func(a, b string) string {
		if a == "" {
			return b
		}
		return a
	}
	return Names{
		Compute: pick(n.Compute, Defaults.Compute),
		Images:  pick(n.Images, Defaults.Images),
		Volumes: pick(n.Volumes, Defaults.Volumes),
		Network: pick(n.Network, Defaults.Network),
	}
}

// Providers are one VCH's opened providers. Volumes and Network may be
// nil (no volume stores, no networking).
type Providers struct {
	Compute compute.Provider
	Images  storage.Store
	Volumes volume.Provider
	Network network.Provider
}

// Env is what an opener gets: the providers opened before it, a logger,
// and a place for state that providers of one platform share (a vSphere
// session), closed with the providers.
type Env struct {
	Log *zap.Logger
	// Opened so far: Images for the volume, network and compute openers,
	// and so on.
	Providers

	mu      sync.Mutex
	shared  map[string]any
	closers []func() error
}

// Shared returns the value kept under key, making it with mk the first
// time; mk's closer (if not nil) runs when the providers are closed.
func (e *Env) Shared(key string, mk func() (any, func() error, error)) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.shared[key]; ok {
		return v, nil
	}
	v, closer, err := mk()
	if err != nil {
		return nil, err
	}
	if e.shared == nil {
		e.shared = map[string]any{}
	}
	e.shared[key] = v
	if closer != nil {
		e.closers = append(e.closers, closer)
	}
	return v, nil
}

// OnClose adds a closer (run in reverse order of addition).
func (e *Env) OnClose(f func() error) {
	e.mu.Lock()
	e.closers = append(e.closers, f)
	e.mu.Unlock()
}

// Opener opens one implementation.
type Opener[T any] func(ctx context.Context, env *Env) (T, error)

// Registry holds the implementations a binary links.
type Registry struct {
	compute map[string]Opener[compute.Provider]
	images  map[string]Opener[storage.Store]
	volumes map[string]Opener[volume.Provider]
	network map[string]Opener[network.Provider]
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{
		compute: map[string]Opener[compute.Provider]{},
		images:  map[string]Opener[storage.Store]{},
		volumes: map[string]Opener[volume.Provider]{},
		network: map[string]Opener[network.Provider]{},
	}
}

// Compute registers a compute provider.
func (r *Registry) Compute(name string, o Opener[compute.Provider]) { r.compute[name] = o }

// Images registers an image store.
func (r *Registry) Images(name string, o Opener[storage.Store]) { r.images[name] = o }

// Volumes registers a volume provider.
func (r *Registry) Volumes(name string, o Opener[volume.Provider]) { r.volumes[name] = o }

// Network registers a network provider.
func (r *Registry) Network(name string, o Opener[network.Provider]) { r.network[name] = o }

func pick[T any](kind, name string, m map[string]Opener[T]) (Opener[T], error) {
	if o, ok := m[name]; ok {
		return o, nil
	}
	known := make([]string, 0, len(m))
	for k := range m {
		known = append(known, k)
	}
	sort.Strings(known)
	return nil, errdefs.InvalidParameter(fmt.Sprintf("unknown %s provider %q: this vchd has %s", kind, name, strings.Join(known, ", ")))
}

// Opened are open providers with their closer.
type Opened struct {
	Providers
	env *Env
}

// Close runs the closers in reverse order (compute first, so VMs are let
// go before the stores and the session they use).
func (o *Opened) Close() error {
	o.env.mu.Lock()
	closers := o.env.closers
	o.env.closers = nil
	o.env.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i]())
	}
	return errors.Join(errs...)
}

// Open opens the named providers. All names are checked before anything
// is opened; on an error what was opened is closed again.
func (r *Registry) Open(ctx context.Context, names Names, log *zap.Logger) (*Opened, error) {
	if log == nil {
		log = zap.NewNop()
	}
	names = names.WithDefaults()
	img, err1 := pick("image store", names.Images, r.images)
	vol, err2 := pick("volume", names.Volumes, r.volumes)
	nw, err3 := pick("network", names.Network, r.network)
	cp, err4 := pick("compute", names.Compute, r.compute)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	env := &Env{Log: log}
	o := &Opened{env: env}
	var err error
	fail := func(kind, name string, err error) (*Opened, error) {
		if cerr := o.Close(); cerr != nil {
			log.Warn("closing providers after a failed open", zap.Error(cerr))
		}
		return nil, fmt.Errorf("%s provider %s: %w", kind, name, err)
	}
	if env.Images, err = img(ctx, env); err != nil {
		return fail("image store", names.Images, err)
	}
	if env.Volumes, err = vol(ctx, env); err != nil {
		return fail("volume", names.Volumes, err)
	}
	if env.Network, err = nw(ctx, env); err != nil {
		return fail("network", names.Network, err)
	}
	if env.Compute, err = cp(ctx, env); err != nil {
		return fail("compute", names.Compute, err)
	}
	log.Info("port layer", zap.String("compute", names.Compute), zap.String("images", names.Images), zap.String("volumes", names.Volumes), zap.String("network", names.Network))
	o.Providers = env.Providers
	return o, nil
}
