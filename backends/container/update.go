package container

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// resizeWarning is update's warning for a running container: a VM's size
// is fixed while it runs.
const resizeWarning = "the new memory and CPU limits apply when the container's VM next starts: restart the container (docker restart) to apply them now"

// sharesWarning goes with --cpu-shares, at create and update: the value
// is kept (inspect shows it, as docker-py and compose expect) but a VCH
// does not weight its VMs' CPU time against each other, as dockerd warns
// and carries on where the kernel lacks CPU shares.
const sharesWarning = "--cpu-shares is recorded but not applied: a VCH does not weight container VMs' CPU time against each other; size a container with --cpus instead"

// ContainerUpdate is docker update: the restart policy takes effect at
// once; memory (-m) and CPUs (--cpus) size the VM from its next start.
// Limits a VM cannot express (shares, quotas, cpusets, blkio, pids, swap)
// answer 501.
func (b *Backend) ContainerUpdate(ctx context.Context, name string, u *container.UpdateConfig) (container.UpdateResponse, error) {
	resp := container.UpdateResponse{Warnings: []string{}}
	if u == nil {
		return resp, errdefs.InvalidParameter("update config cannot be empty")
	}
	if err := unsupportedUpdate(u.Resources); err != nil {
		return resp, err
	}
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return resp, err
	}
	id := c.Spec.ID
	hc := *m.HostConfig
	policyChanged := u.RestartPolicy.Name != ""
	if policyChanged {
		hc.RestartPolicy = u.RestartPolicy
		if err := validateRestart(&hc); err != nil {
			if hc.AutoRemove {
				return resp, errdefs.InvalidParameter("Cannot update container " + id + ": restart policy cannot be updated because AutoRemove is enabled for the container")
			}
			return resp, err
		}
	}
	if u.CPUShares != 0 {
		if u.CPUShares < 0 {
			return resp, errdefs.InvalidParameter("invalid CPU shares: must be positive")
		}
		hc.CPUShares = u.CPUShares
		resp.Warnings = append(resp.Warnings, sharesWarning)
	}
	var res compute.Resources
	if u.Memory != 0 {
		if u.Memory < 6<<20 {
			return resp, errdefs.InvalidParameter("Minimum memory limit allowed is 6MB")
		}
		hc.Memory = u.Memory
		res.MemoryMB = (u.Memory + 1<<20 - 1) >> 20
	}
	if u.NanoCPUs != 0 {
		if u.NanoCPUs < 0 {
			return resp, errdefs.InvalidParameter("Range of CPUs is from 0.01 to the number of CPUs available")
		}
		hc.NanoCPUs = u.NanoCPUs
		res.CPUs = int((u.NanoCPUs + 1e9 - 1) / 1e9)
	}
	if res != (compute.Resources{}) {
		if err := b.pl.SetResources(ctx, id, res); err != nil {
			return resp, fmt.Errorf("cannot update container %s: %w", id, err)
		}
		if c.Status.State == compute.StateRunning {
			resp.Warnings = append(resp.Warnings, resizeWarning)
		}
	}
	if err := b.updateMeta(ctx, id, func(m *Meta) {
		m.HostConfig.RestartPolicy = hc.RestartPolicy
		m.HostConfig.Memory, m.HostConfig.NanoCPUs, m.HostConfig.CPUShares = hc.Memory, hc.NanoCPUs, hc.CPUShares
	}); err != nil {
		return resp, err
	}
	b.eventByID(ctx, id, events.ActionUpdate, nil)
	return resp, nil
}

// unsupportedUpdate refuses the limits a VM cannot honour.
func unsupportedUpdate(r container.Resources) error {
	var what string
	switch {
	case r.CPUPeriod != 0 || r.CPUQuota != 0 || r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0:
		what = "CPU quotas and periods"
	case r.CpusetCpus != "" || r.CpusetMems != "":
		what = "--cpuset-cpus and --cpuset-mems"
	case r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0 || len(r.BlkioDeviceReadBps) > 0 || len(r.BlkioDeviceWriteBps) > 0 ||
		len(r.BlkioDeviceReadIOps) > 0 || len(r.BlkioDeviceWriteIOps) > 0:
		what = "block I/O limits"
	case r.MemoryReservation != 0 || r.MemorySwap != 0 || r.KernelMemory != 0:
		what = "memory reservations and swap limits"
	case r.PidsLimit != nil && *r.PidsLimit > 0:
		what = "--pids-limit"
	default:
		return nil
	}
	return errdefs.NotImplemented(what + " cannot be updated on a VCH: a container is a VM; update its memory (-m) and CPUs (--cpus) instead")
}
