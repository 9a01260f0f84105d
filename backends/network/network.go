// Package network is the docker personality of the port layer's networks:
// docker network ls and inspect in docker's shapes.
package network

import (
	"context"
	"strings"

	"github.com/docker/docker/api/types/filters"
	dnetwork "github.com/docker/docker/api/types/network"

	networkrouter "github.com/vchproject/vch/daemon/router/network"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
)

// Names finds a container's docker name (backends/container's index).
type Names func(id string) string

// Backend serves /networks.
type Backend struct {
	net     network.Scopes
	eps     network.Endpoints
	compute compute.Inspector
	names   Names
}

var _ networkrouter.Backend = (*Backend)(nil)

// New returns the network backend.
func New(p network.Provider, c compute.Inspector, names Names) *Backend {
	return &Backend{net: p, eps: p, compute: c, names: names}
}

// NetworkList answers docker network ls (filters: name, id, driver, type).
func (b *Backend) NetworkList(ctx context.Context, f filters.Args) ([]dnetwork.Summary, error) {
	if err := f.Validate(map[string]bool{"name": true, "id": true, "driver": true, "type": true, "scope": true, "label": true}); err != nil {
		return nil, errdefs.InvalidParameter(err.Error())
	}
	nets, err := b.net.Networks(ctx)
	if err != nil {
		return nil, err
	}
	out := []dnetwork.Summary{}
	for _, n := range nets {
		if f.Contains("name") && !f.Match("name", n.Name) {
			continue
		}
		if f.Contains("id") && !matchPrefix(f.Get("id"), n.ID) {
			continue
		}
		if f.Contains("driver") && !f.ExactMatch("driver", n.Driver) {
			continue
		}
		if f.Contains("type") && !f.ExactMatch("type", "builtin") {
			continue
		}
		if f.Contains("scope") && !f.ExactMatch("scope", "local") {
			continue
		}
		if f.Contains("label") {
			continue // built-in networks carry no labels
		}
		out = append(out, shape(n))
	}
	return out, nil
}

func matchPrefix(want []string, id string) bool {
	for _, w := range want {
		if strings.HasPrefix(id, w) {
			return true
		}
	}
	return false
}

// NetworkInspect answers docker network inspect, with the running
// containers on the network.
func (b *Backend) NetworkInspect(ctx context.Context, nameOrID string) (dnetwork.Inspect, error) {
	n, err := b.net.Network(ctx, nameOrID)
	if err != nil {
		return dnetwork.Inspect{}, err
	}
	out := shape(n)
	cs, err := b.compute.List(ctx)
	if err != nil {
		return dnetwork.Inspect{}, err
	}
	for _, c := range cs {
		eps, err := b.eps.Endpoints(ctx, c.Spec.ID)
		if err != nil {
			return dnetwork.Inspect{}, err
		}
		for _, ep := range eps {
			if ep.Network != n.ID || !ep.Active {
				continue
			}
			name := ""
			if b.names != nil {
				name = strings.TrimPrefix(b.names(c.Spec.ID), "/")
			}
			out.Containers[c.Spec.ID] = dnetwork.EndpointResource{
				Name: name, EndpointID: ep.ID, MacAddress: ep.MAC, IPv4Address: ep.Address.String(),
			}
		}
	}
	return out, nil
}

func shape(n network.Network) dnetwork.Inspect {
	return dnetwork.Inspect{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		EnableIPv4: true, Internal: n.Internal,
		IPAM: dnetwork.IPAM{Driver: "default", Options: map[string]string{}, Config: []dnetwork.IPAMConfig{
			{Subnet: n.Subnet.String(), Gateway: n.Gateway.String()},
		}},
		Containers: map[string]dnetwork.EndpointResource{},
		Options: map[string]string{
			"com.docker.network.bridge.name":                 n.Bridge,
			"com.docker.network.bridge.default_bridge":       "true",
			"com.docker.network.bridge.enable_ip_masquerade": "true",
		},
		Labels: map[string]string{},
	}
}
