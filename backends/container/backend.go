package container

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"go.uber.org/zap"

	"github.com/vchproject/vch/backends/names"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/storage"
)

// ImageResolver finds the image a user named (backends/image implements it).
type ImageResolver interface {
	Resolve(ctx context.Context, refOrID string) (storage.Image, error)
}

// Config wires the container backend.
type Config struct {
	Compute         compute.Provider
	Network         network.Provider // nil: containers get no network (and -p is refused)
	Images          ImageResolver
	Logger          *zap.Logger
	DefaultMemoryMB int64   // for containers created without --memory; 0: provider default
	DefaultCPUs     int     // for containers created without --cpus; 0: provider default
	Volumes         Volumes // nil: containers cannot mount volumes
	// NameConvention names container VMs, with the tokens {name} and
	// {id} (vic-machine create --container-name-convention); "": the
	// provider's default name.
	NameConvention string
	// BindAllow are the host directories bind mounts may come from
	// (vic-machine --bind-allow); none: bind mounts are refused (403).
	BindAllow []string
	Now       func() time.Time // nil: time.Now
	Events    EventLogger      // nil: events are not recorded
	Commit    ImageCommitter   // nil: docker commit answers 501
}

// Backend implements the daemon's container.Backend.
type Backend struct {
	cfg   Config
	pl    compute.Provider
	net   network.Provider
	log   *zap.Logger
	now   func() time.Time
	index *names.Index

	metaMu sync.Mutex // serializes read-modify-write of Meta

	execs execStore // docker exec instances (exec.go)

	events   EventLogger
	diedRuns diedRuns // runs whose die event was logged (events.go)
	healths  healthMonitors
	samples  lastSamples // each container's latest stats sample (stats.go)

	rmu        sync.Mutex
	restarting map[string]*pendingRestart // containers waiting out a restart back-off
	// restartMarks counts the changes of each container's restarting
	// mark (readAroundRestarts).
	restartMarks map[string]uint64
	watching     map[string]*watchState   // containers with a running monitor (one each)
	delays       map[string]time.Duration // last back-off per container
	delayFn      func(prev, ranFor time.Duration) time.Duration

	ctx    context.Context // lives until Close; parent of background work
	cancel context.CancelFunc
	bg     sync.WaitGroup
}

var _ containerrouter.Backend = (*Backend)(nil)

// New rebuilds the name index from the port layer, removes AutoRemove
// containers that exited while vchd was down, starts those whose restart
// policy asks for it, and watches the running ones.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	b := &Backend{cfg: cfg, pl: cfg.Compute, net: cfg.Network, log: cfg.Logger, now: cfg.Now, index: names.NewIndex(),
		restarting: map[string]*pendingRestart{}, restartMarks: map[string]uint64{}, watching: map[string]*watchState{}, delays: map[string]time.Duration{}, delayFn: restartDelay}
	if b.log == nil {
		b.log = zap.NewNop()
	}
	if b.now == nil {
		b.now = time.Now
	}
	b.events = cfg.Events
	if b.events == nil {
		b.events = noEvents{}
	}
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	cs, err := b.pl.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	b.reconcileNetwork(ctx, cs)
	for _, c := range cs {
		m, err := decodeMeta(c.Spec.ID, c.Spec.Meta)
		if err != nil {
			b.log.Warn("skipping container with unreadable meta", zap.String("id", c.Spec.ID), zap.Error(err))
			continue
		}
		if err := b.index.Reserve(m.Name, c.Spec.ID); err != nil {
			b.log.Warn("duplicate container name", zap.String("id", c.Spec.ID), zap.String("name", m.Name), zap.Error(err))
			continue
		}
		b.recover(ctx, c, m)
	}
	return b, nil
}

// recover resumes what a vchd restart interrupted: watching running
// containers, removing exited AutoRemove ones, restarting by policy.
func (b *Backend) recover(ctx context.Context, c compute.Container, m *Meta) {
	id := c.Spec.ID
	switch {
	case c.Status.State == compute.StateRunning:
		if needsWatch(m) {
			b.watch(id)
		}
		b.startHealth(id, m, c.Status.StartedAt)
	case !m.Started || c.Status.State != compute.StateExited:
	case m.HostConfig.AutoRemove:
		b.log.Info("removing auto-remove container that exited while vchd was down", zap.String("id", id))
		if err := b.remove(ctx, id); err != nil {
			b.log.Warn("auto-remove failed", zap.String("id", id), zap.Error(err))
		}
	case shouldRestart(m.HostConfig.RestartPolicy, c.Status.ExitCode, m.ManuallyStopped, m.RestartCount):
		// In the background: a boot takes seconds to minutes, and the
		// API must answer meanwhile. The container shows as restarting
		// until its start returns; a stop or rm -f cancels it.
		log := b.log.With(zap.String("id", id))
		log.Info("starting container by its restart policy after a vchd restart", zap.Int("exitCode", c.Status.ExitCode))
		p := b.setRestarting(id)
		b.bg.Add(1)
		go func() {
			defer b.bg.Done()
			if b.restartPending(log, id, c.Status.ExitCode, p, 0, false) {
				b.watch(id)
			}
		}()
	}
}

// Close stops background work (AutoRemove watchers) and waits for it.
func (b *Backend) Close() {
	b.cancel()
	b.bg.Wait()
}

// lookupID resolves what the user typed to a container ID.
func (b *Backend) lookupID(ref string) (string, error) {
	return b.index.Resolve(ref)
}

// lookup resolves what the user typed and reads the container.
func (b *Backend) lookup(ctx context.Context, ref string) (compute.Container, *Meta, error) {
	id, err := b.lookupID(ref)
	if err != nil {
		return compute.Container{}, nil, err
	}
	return b.read(ctx, id)
}

func (b *Backend) read(ctx context.Context, id string) (compute.Container, *Meta, error) {
	c, err := b.pl.Inspect(ctx, id)
	if err != nil {
		return compute.Container{}, nil, err
	}
	m, err := decodeMeta(id, c.Spec.Meta)
	if err != nil {
		return compute.Container{}, nil, err
	}
	return c, m, nil
}

// updateMeta applies change to the stored Meta of id.
func (b *Backend) updateMeta(ctx context.Context, id string, change func(*Meta)) error {
	b.metaMu.Lock()
	defer b.metaMu.Unlock()
	_, m, err := b.read(ctx, id)
	if err != nil {
		return err
	}
	change(m)
	raw, err := m.encode()
	if err != nil {
		return err
	}
	return b.pl.Update(ctx, id, raw)
}

// remove deletes a stopped container and frees its name. The name is
// freed first, so whoever sees the removal (wait --rm) can reuse it at once.
func (b *Backend) remove(ctx context.Context, id string) error {
	return b.removeContainer(ctx, id, false)
}

// removeContainer removes a stopped container; its anonymous volumes go
// with it if removeVolumes is set or it was created with --rm.
func (b *Backend) removeContainer(ctx context.Context, id string, removeVolumes bool) error {
	_, m, merr := b.read(ctx, id)
	if err := b.removeOnly(ctx, id); err != nil {
		return err
	}
	if merr == nil && (removeVolumes || m.HostConfig.AutoRemove) {
		b.removeAnonymousVolumes(context.WithoutCancel(ctx), m)
	}
	return nil
}

func (b *Backend) removeOnly(ctx context.Context, id string) error {
	_, m, _ := b.read(ctx, id)
	name := b.index.Name(id)
	b.index.Release(id)
	if err := b.pl.Remove(ctx, id); err != nil {
		if name != "" && !errdefs.IsNotFound(err) {
			if rerr := b.index.Reserve(name, id); rerr != nil {
				b.log.Error("remove failed and the name was taken meanwhile", zap.String("id", id), zap.String("name", name), zap.Error(rerr))
			}
		}
		return err
	}
	b.leave(ctx, id)
	b.diedRuns.forget(id)
	b.forgetRestarts(id)
	b.stopHealth(id, true)
	b.samples.swap(id, nil)
	b.event(id, m, events.ActionDestroy, nil)
	return nil
}
