package container

import (
	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/errdefs"
)

// unsupportedHostConfig refuses, with a clear 501, options this VCH does not
// implement yet or cannot honour (a container is a VM of its own: it has no
// host namespaces or host devices to share), rather than accepting them and
// silently doing nothing.
func unsupportedHostConfig(hc *container.HostConfig, networking bool) error {
	switch {
	case !networking && (len(hc.PortBindings) > 0 || hc.PublishAllPorts):
		return errdefs.NotImplemented("publishing ports (-p, -P) is not supported by this VCH yet")
	case !networking && len(hc.Links) > 0:
		return errLinks
	case hc.Privileged:
		return errdefs.NotImplemented("privileged containers (--privileged) are not supported by a VCH: a container is a VM and has no host devices or host kernel to reach")
	case len(hc.Devices) > 0 || len(hc.DeviceRequests) > 0 || len(hc.DeviceCgroupRules) > 0:
		return errdefs.NotImplemented("host devices (--device, --gpus, --device-cgroup-rule) are not supported by a VCH: a container is a VM and cannot use the host's devices")
	case hc.PidMode.IsHost() || hc.PidMode.IsContainer():
		return errdefs.NotImplemented("--pid " + string(hc.PidMode) + " is not supported by a VCH: a container is a VM with its own process table")
	case hc.IpcMode.IsHost() || hc.IpcMode.IsContainer():
		return errdefs.NotImplemented("--ipc " + string(hc.IpcMode) + " is not supported by a VCH: a container is a VM with its own IPC namespace")
	case hc.UTSMode.IsHost():
		return errdefs.NotImplemented("--uts host is not supported by a VCH: a container is a VM with its own hostname")
	}
	return nil
}
