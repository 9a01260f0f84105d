//lint:file-ignore SA1019 docker API 1.45 clients (and scripts using {{.NetworkSettings.IPAddress}}) read the default bridge's top-level fields

package container

import (
	"github.com/docker/docker/api/types/container"
	dnetwork "github.com/docker/docker/api/types/network"
)

// defaultSettings fills the top-level fields docker still shows for the
// default bridge network.
func defaultSettings(es *dnetwork.EndpointSettings) container.DefaultNetworkSettings {
	return container.DefaultNetworkSettings{
		IPAddress: es.IPAddress, IPPrefixLen: es.IPPrefixLen, Gateway: es.Gateway,
		MacAddress: es.MacAddress, EndpointID: es.EndpointID,
		GlobalIPv6Address: es.GlobalIPv6Address, GlobalIPv6PrefixLen: es.GlobalIPv6PrefixLen, IPv6Gateway: es.IPv6Gateway,
	}
}
