package container

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/events"
	"go.uber.org/zap"

	"github.com/vchproject/vch/backends/names"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// ContainerRemove deletes a container; a running one only with force (it
// is powered off first, as docker kills it).
func (b *Backend) ContainerRemove(ctx context.Context, name string, force, removeVolumes bool) error {
	c, _, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	id := c.Spec.ID
	if b.isRestarting(id) {
		if !force {
			return removeRunningError("restarting", id)
		}
		b.cancelRestart(id)
	}
	if c.Status.State == compute.StateRunning {
		if !force {
			state := "running"
			if c.Status.Paused {
				state = "paused"
			}
			return removeRunningError(state, id)
		}
		ctx = context.WithoutCancel(ctx)
		if err := b.markStopped(ctx, id, true); err != nil {
			return fmt.Errorf("cannot remove container %q: %w", name, err)
		}
		if err := b.pl.Kill(ctx, id); err != nil && !errdefs.IsConflict(err) {
			return fmt.Errorf("cannot remove container %q: could not kill container: %w", name, err)
		}
		b.eventByID(ctx, id, events.ActionKill, map[string]string{"signal": "9"})
		st, err := b.pl.Wait(ctx, id, compute.WaitNotRunning)
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("cannot remove container %q: %w", name, err)
		}
		if err == nil {
			b.died(ctx, id, st)
		}
	}
	if err := b.removeContainer(ctx, id, removeVolumes); err != nil {
		if errdefs.IsNotFound(err) {
			return errdefs.NotFound("No such container: " + name)
		}
		return fmt.Errorf("cannot remove container %q: %w", name, err)
	}
	b.log.Info("removed container", zap.String("id", id))
	return nil
}

// removeRunningError is dockerd 20.10's refusal to remove a container
// that runs (Debian's docker.io, measured; docker-py 5.0.3 looks for
// "You cannot remove ").
func removeRunningError(state, id string) error {
	procedure := "Stop the container before attempting removal or force remove"
	if state == "paused" {
		procedure = "Unpause and then stop the container before attempting removal or force remove"
	}
	return errdefs.Conflict(fmt.Sprintf("You cannot remove a %s container %s. %s", state, id, procedure))
}

// ContainerRemoveLink is docker rm --link PARENT/ALIAS: the legacy link
// ALIAS leaves PARENT's configuration (its next create-time resolution,
// inspect's HostConfig.Links); a running VM keeps the variables and hosts
// entry it booted with, as a running process keeps its environment.
func (b *Backend) ContainerRemoveLink(ctx context.Context, name string) error {
	full := "/" + strings.TrimPrefix(name, "/")
	i := strings.LastIndex(full, "/")
	parent, alias := full[:i], full[i+1:]
	if parent == "" {
		return errdefs.Conflict("Conflict, cannot remove the default link name of the container")
	}
	id, err := b.lookupID(parent)
	if err != nil {
		return errdefs.NotFound("No such container: " + name)
	}
	found := false
	err = b.updateMeta(ctx, id, func(m *Meta) {
		var keep []string
		for _, l := range m.HostConfig.Links {
			_, a, _ := strings.Cut(l, ":")
			if j := strings.LastIndex(a, "/"); j >= 0 {
				a = a[j+1:]
			}
			if a == "" {
				a = strings.TrimPrefix(l, "/")
			}
			if a == alias {
				found = true
				continue
			}
			keep = append(keep, l)
		}
		m.HostConfig.Links = keep
	})
	if err != nil {
		return err
	}
	if !found {
		return errdefs.NotFound("No such container: " + name)
	}
	return nil
}

// ContainerRename gives a container a new name.
func (b *Backend) ContainerRename(ctx context.Context, oldName, newName string) error {
	if oldName == "" || newName == "" {
		return errdefs.InvalidParameter("Neither old nor new names may be empty")
	}
	id, err := b.lookupID(oldName)
	if err != nil {
		return err
	}
	current := b.index.Name(id)
	want := newName
	if want[0] != '/' {
		want = "/" + want
	}
	if want == current {
		return errdefs.InvalidParameter("Renaming a container with the same name as its current name")
	}
	normalized, err := names.Normalize(want)
	if err != nil {
		return errdefs.InvalidParameter("Error when allocating new name: " + err.Error())
	}
	if err := b.index.Rename(id, normalized); err != nil {
		return errdefs.Conflict("Error when allocating new name: " + err.Error())
	}
	if err := b.updateMeta(ctx, id, func(m *Meta) { m.Name = normalized }); err != nil {
		if rerr := b.index.Rename(id, current); rerr != nil {
			b.log.Error("rename: restoring old name", zap.String("id", id), zap.Error(rerr))
		}
		return err
	}
	b.eventByID(ctx, id, events.ActionRename, map[string]string{"oldName": current})
	if b.net != nil {
		if err := b.net.Rename(ctx, id, strings.TrimPrefix(current, "/"), strings.TrimPrefix(normalized, "/")); err != nil {
			b.log.Warn("rename: DNS names", zap.String("id", id), zap.Error(err))
		}
	}
	return nil
}
