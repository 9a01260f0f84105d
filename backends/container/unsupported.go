package container

import (
	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/errdefs"
)

// unsupportedHostConfig refuses, with a clear 501, options this VCH does not
// implement yet, rather than accepting them and silently doing nothing.
func unsupportedHostConfig(hc *container.HostConfig, networking bool) error {
	switch {
	case !networking && (len(hc.PortBindings) > 0 || hc.PublishAllPorts):
		return errdefs.NotImplemented("publishing ports (-p, -P) is not supported by this VCH yet")
	case len(hc.Links) > 0:
		return errdefs.NotImplemented("legacy container links (--link) are not supported by this VCH: put the containers on a user-defined network (docker network create) and reach them by name")
	}
	return nil
}
