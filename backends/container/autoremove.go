package container

import (
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// watchAutoRemove removes id once its current run ends (docker run --rm).
// Called after every successful start of an AutoRemove container and, by
// New, for those found running.
func (b *Backend) watchAutoRemove(id string) {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		if _, err := b.pl.Wait(b.ctx, id, compute.WaitNotRunning); err != nil {
			if b.ctx.Err() == nil && !errdefs.IsNotFound(err) {
				b.log.Warn("auto-remove: wait failed", zap.String("id", id), zap.Error(err))
			}
			return
		}
		if err := b.remove(b.ctx, id); err != nil && !errdefs.IsNotFound(err) {
			b.log.Warn("auto-remove failed", zap.String("id", id), zap.Error(err))
			return
		}
		b.log.Info("auto-removed container", zap.String("id", id))
	}()
}
