package container

import (
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/vchproject/vch/errdefs"
)

func TestUnsupportedHostConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		hc   container.HostConfig
		fail bool
	}{
		"plain":         {container.HostConfig{}, false},
		"publish":       {container.HostConfig{PortBindings: nat.PortMap{"80/tcp": {{HostPort: "8080"}}}}, true},
		"-P":            {container.HostConfig{PublishAllPorts: true}, true},
		"privileged":    {container.HostConfig{Privileged: true}, true},
		"device":        {container.HostConfig{Resources: container.Resources{Devices: []container.DeviceMapping{{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"}}}}, true},
		"pid host":      {container.HostConfig{PidMode: "host"}, true},
		"pid container": {container.HostConfig{PidMode: "container:db"}, true},
		"ipc host":      {container.HostConfig{IpcMode: "host"}, true},
		"ipc private":   {container.HostConfig{IpcMode: "private"}, false},
		"uts host":      {container.HostConfig{UTSMode: "host"}, true},
	} {
		err := unsupportedHostConfig(&tc.hc, false)
		if tc.fail != (err != nil) || (err != nil && !errdefs.IsNotImplemented(err)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
