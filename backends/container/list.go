package container

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"go.uber.org/zap"

	"github.com/vchproject/vch/backends/filters"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/portlayer/compute"
)

type listed struct {
	c      compute.Container
	m      *Meta
	d      dockerState
	health string // "" without a healthcheck
}

// Containers answers docker ps: newest first, filtered as docker does.
func (b *Backend) Containers(ctx context.Context, cfg containerrouter.ListConfig) ([]container.Summary, error) {
	look := filters.Lookups{
		Image: func(ref string) (string, bool) {
			img, err := b.cfg.Images.Resolve(ctx, ref)
			return img.ID, err == nil
		},
		Container: b.lookupID,
	}
	f, err := filters.NewContainerFilter(cfg.Filters, look)
	if err != nil {
		return nil, err
	}
	var all []compute.Container
	restarting, err := b.readAroundRestarts(func() (err error) {
		all, err = b.pl.List(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := map[string]listed{}
	var records []filters.Container
	for _, c := range all {
		m, err := decodeMeta(c.Spec.ID, c.Spec.Meta)
		if err != nil {
			b.log.Warn("ps: unreadable meta", zap.String("id", c.Spec.ID), zap.Error(err))
			continue
		}
		d := deriveState(c.Status, m, restarting(c.Spec.ID))
		var health string
		if _, ok := probeOf(m.Config.Healthcheck); ok {
			health = string(container.Starting)
			if h := b.health(c.Spec.ID); h != nil {
				health = string(h.Status)
			}
		}
		byID[c.Spec.ID] = listed{c, m, d, health}
		ports := []string{}
		for p := range m.Config.ExposedPorts {
			ports = append(ports, string(p))
		}
		records = append(records, filters.Container{
			ID: c.Spec.ID, Name: m.Name, State: d.Status, ExitCode: d.ExitCode,
			Started: m.Started, Labels: m.Config.Labels, ImageID: c.Spec.Image,
			Isolation: string(m.HostConfig.Isolation), Ports: ports, Health: health,
		})
	}
	sort.SliceStable(records, func(i, j int) bool {
		return byID[records[i].ID].m.Created.After(byID[records[j].ID].m.Created)
	})
	now := b.now()
	out := []container.Summary{}
	for _, r := range f.Select(records, cfg.All, cfg.Limit) {
		l := byID[r.ID]
		s := summary(l, now)
		s.Ports, s.NetworkSettings.Networks = b.summaryPorts(ctx, r.ID, l.m, l.d.Running)
		s.Image = b.refreshImage(ctx, s.Image, s.ImageID)
		if cfg.Size {
			s.SizeRw, s.SizeRootFs = b.sizes(ctx, r.ID, s.ImageID)
		}
		out = append(out, s)
	}
	return out, nil
}

// refreshImage is docker's IMAGE column: the reference the user gave,
// unless it no longer resolves to the container's image (re-pulled tag,
// removed image); then the image ID.
func (b *Backend) refreshImage(ctx context.Context, ref, id string) string {
	if ref == id {
		return ref
	}
	img, err := b.cfg.Images.Resolve(ctx, ref)
	if err != nil || img.ID != id {
		return id
	}
	return ref
}

// summary is one docker ps row.
func summary(l listed, now time.Time) container.Summary {
	labels := l.m.Config.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	s := container.Summary{
		ID:              l.c.Spec.ID,
		Names:           []string{l.m.Name},
		Image:           l.m.Config.Image,
		ImageID:         l.c.Spec.Image,
		Command:         command(l.m),
		Created:         l.m.Created.Unix(),
		Ports:           []container.Port{},
		Labels:          labels,
		State:           l.d.Status,
		Status:          statusText(l.d, now),
		NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{}},
		Mounts:          []container.MountPoint{},
	}
	if l.d.Status == container.StateRunning && l.health != "" {
		s.Status += " (" + healthText(&container.Health{Status: container.HealthStatus(l.health)}) + ")"
	}
	for _, r := range l.m.Mounts {
		s.Mounts = append(s.Mounts, container.MountPoint{Type: mount.Type(r.Type), Name: r.Name, Destination: r.Destination, RW: r.RW, Mode: r.Mode})
	}
	s.HostConfig.NetworkMode = string(l.m.HostConfig.NetworkMode)
	if s.HostConfig.NetworkMode == "" {
		s.HostConfig.NetworkMode = network.NetworkBridge
	}
	return s
}

// command is docker ps's COMMAND: path and args joined by spaces.
func command(m *Meta) string {
	return strings.TrimSpace(strings.Join(append([]string{m.Path}, m.Args...), " "))
}
