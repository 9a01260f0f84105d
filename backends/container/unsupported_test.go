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

// TestValidateLogConfig: dockerd's 400 and text for a driver it does not
// know or a bad mode; its other built-in drivers are a 501 here.
func TestValidateLogConfig(t *testing.T) {
	for _, ok := range []container.LogConfig{{}, {Type: "json-file", Config: map[string]string{"max-file": "100"}}, {Type: "none"}, {Type: "local", Config: map[string]string{"mode": "non-blocking"}}} {
		if err := validateLogConfig(ok); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	if err := validateLogConfig(container.LogConfig{Type: "asdf"}); !errdefs.IsInvalidParameter(err) || err.Error() != `error looking up logging plugin asdf: plugin "asdf" not found` {
		t.Errorf("asdf: %v", err)
	}
	if err := validateLogConfig(container.LogConfig{Type: "json-file", Config: map[string]string{"mode": "fast"}}); !errdefs.IsInvalidParameter(err) || err.Error() != "logger: logging mode not supported: fast" {
		t.Errorf("mode fast: %v", err)
	}
	if err := validateLogConfig(container.LogConfig{Type: "gelf"}); !errdefs.IsNotImplemented(err) {
		t.Errorf("gelf: %v", err)
	}
}
