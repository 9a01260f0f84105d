package container

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/storage"
	"github.com/docker/go-connections/nat"

	"github.com/vchproject/vch/portlayer/compute"
)

// Driver is the storage driver name vch reports.
const Driver = "vch"

// ContainerInspect answers docker inspect in docker's shape.
func (b *Backend) ContainerInspect(ctx context.Context, name string, size bool) (*container.InspectResponse, error) {
	var c compute.Container
	var m *Meta
	restarting, err := b.readAroundRestarts(func() (err error) {
		c, m, err = b.lookup(ctx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	resp := inspectResponse(c, m, restarting(c.Spec.ID))
	resp.ExecIDs = b.execs.running(c.Spec.ID)
	if _, ok := probeOf(m.Config.Healthcheck); ok {
		resp.State.Health = b.health(c.Spec.ID)
		if resp.State.Health == nil {
			resp.State.Health = &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}
		}
	}
	resp.Mounts = b.inspectMounts(ctx, m)
	if size {
		rw, rootfs := b.sizes(ctx, c.Spec.ID, c.Spec.Image)
		resp.SizeRw, resp.SizeRootFs = &rw, &rootfs
	}
	if b.net != nil {
		resp.NetworkSettings = b.networkSettings(ctx, c.Spec.ID, m)
	}
	return resp, nil
}

func inspectResponse(c compute.Container, m *Meta, restarting bool) *container.InspectResponse {
	d := deriveState(c.Status, m, restarting)
	args := m.Args
	if args == nil {
		args = []string{}
	}
	platform := "linux"
	hc := *m.HostConfig
	if hc.NetworkMode == "" {
		hc.NetworkMode = network.NetworkBridge
	}
	// Logs are kept per container as docker's default driver keeps them
	// (docker logs reads them back), and clients compare these with
	// docker's defaults.
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = "json-file"
	}
	if hc.LogConfig.Config == nil {
		hc.LogConfig.Config = map[string]string{}
	}
	if hc.Runtime == "" {
		hc.Runtime = "runc"
	}
	base := &container.ContainerJSONBase{
		ID:      c.Spec.ID,
		Created: m.Created.UTC().Format(time.RFC3339Nano),
		Path:    m.Path,
		Args:    args,
		State: &container.State{
			Status:     d.Status,
			Running:    d.Running,
			Restarting: d.Restarting,
			Paused:     d.Paused,
			Pid:        d.Pid,
			ExitCode:   d.ExitCode,
			Error:      d.Error,
			StartedAt:  timeText(d.StartedAt),
			FinishedAt: timeText(d.FinishedAt),
		},
		Image:        c.Spec.Image,
		Name:         m.Name,
		RestartCount: m.RestartCount,
		Driver:       Driver,
		Platform:     platform,
		HostConfig:   &hc,
		GraphDriver:  storage.DriverData{Name: Driver, Data: map[string]string{}},
	}
	ns := &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}}
	ns.Ports = nat.PortMap{}
	return &container.InspectResponse{
		ContainerJSONBase: base,
		Mounts:            []container.MountPoint{},
		Config:            m.Config,
		NetworkSettings:   ns,
	}
}
