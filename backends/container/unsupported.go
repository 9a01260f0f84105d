package container

import (
	"fmt"

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

// dockerLogDrivers are the log drivers dockerd has built in. A VCH keeps
// every container's output itself (docker logs, json-file's behaviour)
// and forwards it to syslog VCH-wide (vic-machine create
// --syslog-address), so json-file, local and none are taken and the
// other drivers of dockerd are refused as unsupported.
var dockerLogDrivers = map[string]bool{
	"": true, "json-file": true, "local": true, "none": true,
	"syslog": false, "journald": false, "gelf": false, "fluentd": false, "awslogs": false,
	"splunk": false, "gcplogs": false, "logentries": false, "etwlogs": false,
}

// validateLogConfig checks --log-driver and --log-opt mode as dockerd
// does, with its texts: a driver dockerd does not know is a 400.
func validateLogConfig(lc container.LogConfig) error {
	if lc.Type == "none" {
		return nil
	}
	switch container.LogMode(lc.Config["mode"]) {
	case container.LogModeBlocking, container.LogModeNonBlock, container.LogModeUnset:
	default:
		return errdefs.InvalidParameter(fmt.Sprintf("logger: logging mode not supported: %s", lc.Config["mode"]))
	}
	ok, known := dockerLogDrivers[lc.Type]
	switch {
	case !known:
		// dockerd 20.10's text (it looks for a logging plugin of that name)
		return errdefs.InvalidParameter(fmt.Sprintf("error looking up logging plugin %s: plugin %q not found", lc.Type, lc.Type))
	case !ok:
		return errdefs.NotImplemented(fmt.Sprintf("log driver %q is not supported by a VCH: it keeps container output for docker logs (json-file, local or none); to forward it to syslog, give the VCH vic-machine create --syslog-address", lc.Type))
	}
	return nil
}
