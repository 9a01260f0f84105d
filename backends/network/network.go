// Package network is the docker personality of the port layer's networks:
// docker network create, ls, inspect, rm and prune in docker's shapes and
// with docker's texts.
package network

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	dnetwork "github.com/docker/docker/api/types/network"

	networkrouter "github.com/vchproject/vch/daemon/router/network"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
)

// Names finds a container's docker name (backends/container's index).
type Names func(id string) string

// Connector connects containers to networks and disconnects them
// (backends/container, which knows containers' names and states).
type Connector interface {
	NetworkConnect(ctx context.Context, container, network string, es *dnetwork.EndpointSettings) error
	NetworkDisconnect(ctx context.Context, container, network string, force bool) error
}

// Backend serves /networks.
type Backend struct {
	net     network.Scopes
	mgr     network.Manager
	eps     network.Endpoints
	compute compute.Inspector
	names   Names
	conn    Connector
	now     func() time.Time
	events  EventLogger
}

// EventLogger records docker events (backends/events implements it).
type EventLogger interface {
	Log(typ events.Type, action events.Action, actor events.Actor)
}

type noEvents struct{}

func (noEvents) Log(events.Type, events.Action, events.Actor) {}

// SetEvents makes the backend log network create and destroy to l (the
// container backend logs connect and disconnect).
func (b *Backend) SetEvents(l EventLogger) { b.events = l }

// event logs a network event as dockerd does: the network is the actor,
// with its name and driver.
func (b *Backend) event(n network.Network, action events.Action) {
	b.events.Log(events.NetworkEventType, action, events.Actor{ID: n.ID, Attributes: map[string]string{"name": n.Name, "type": n.Driver}})
}

var _ networkrouter.Backend = (*Backend)(nil)

// New returns the network backend; conn may be nil (connect answers 501).
func New(p network.Provider, c compute.Inspector, names Names, conn Connector) *Backend {
	return &Backend{net: p, mgr: p, eps: p, compute: c, names: names, conn: conn, now: time.Now, events: noEvents{}}
}

// NetworkConnect answers docker network connect.
func (b *Backend) NetworkConnect(ctx context.Context, nameOrID string, req dnetwork.ConnectOptions) error {
	if b.conn == nil {
		return errdefs.NotImplemented("network connect is not supported by this VCH")
	}
	if _, err := b.net.Network(ctx, nameOrID); err != nil {
		return err
	}
	return b.conn.NetworkConnect(ctx, req.Container, nameOrID, req.EndpointConfig)
}

// NetworkDisconnect answers docker network disconnect.
func (b *Backend) NetworkDisconnect(ctx context.Context, nameOrID string, req dnetwork.DisconnectOptions) error {
	if b.conn == nil {
		return errdefs.NotImplemented("network disconnect is not supported by this VCH")
	}
	if _, err := b.net.Network(ctx, nameOrID); err != nil {
		return err
	}
	return b.conn.NetworkDisconnect(ctx, req.Container, nameOrID, req.Force)
}

// validName is docker's rule for network names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// NetworkCreate answers docker network create (driver bridge, one IPv4
// IPAM config: subnet, gateway, ip-range; internal; labels; options).
func (b *Backend) NetworkCreate(ctx context.Context, req dnetwork.CreateRequest) (dnetwork.CreateResponse, error) {
	spec, err := createSpec(req)
	if err != nil {
		return dnetwork.CreateResponse{}, err
	}
	n, err := b.mgr.CreateNetwork(ctx, spec)
	if err != nil {
		return dnetwork.CreateResponse{}, err
	}
	b.event(n, events.ActionCreate)
	return dnetwork.CreateResponse{ID: n.ID}, nil
}

// createSpec checks docker's create request and turns it into the port
// layer's spec.
func createSpec(req dnetwork.CreateRequest) (network.NetworkSpec, error) {
	switch req.Name {
	case "":
		return network.NetworkSpec{}, errdefs.InvalidParameter("network name cannot be empty")
	case network.BridgeName, "host", "none", "default":
		return network.NetworkSpec{}, errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("%s is a pre-defined network and cannot be created", req.Name))
	}
	if !validName.MatchString(req.Name) {
		return network.NetworkSpec{}, errdefs.InvalidParameter(fmt.Sprintf("invalid name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", req.Name))
	}
	switch {
	case req.Scope != "" && req.Scope != "local":
		return network.NetworkSpec{}, errdefs.NotImplemented(fmt.Sprintf("network scope %s is not supported by this VCH: only local", req.Scope))
	case req.Ingress || req.ConfigOnly || req.ConfigFrom != nil:
		return network.NetworkSpec{}, errdefs.NotImplemented("swarm and config-only networks are not supported by this VCH")
	}
	spec := network.NetworkSpec{
		Name: req.Name, Driver: req.Driver, Internal: req.Internal,
		Labels: maps.Clone(req.Labels), Options: maps.Clone(req.Options),
		IPv6: req.EnableIPv6 != nil && *req.EnableIPv6,
	}
	if ipam := req.IPAM; ipam != nil {
		if ipam.Driver != "" && ipam.Driver != "default" {
			return network.NetworkSpec{}, errdefs.NotFound(fmt.Sprintf("plugin %q not found", ipam.Driver))
		}
		var v4 []dnetwork.IPAMConfig
		for _, c := range ipam.Config {
			p, err := netip.ParsePrefix(c.Subnet)
			if err != nil || !p.Addr().Is6() {
				v4 = append(v4, c)
				continue
			}
			if !spec.IPv6 {
				return network.NetworkSpec{}, errdefs.InvalidParameter(fmt.Sprintf("IPv6 subnet %s needs --ipv6", c.Subnet))
			}
			if spec.Subnet6.IsValid() {
				return network.NetworkSpec{}, errdefs.NotImplemented("this VCH takes at most one IPv6 subnet per network")
			}
			if c.IPRange != "" || len(c.AuxAddress) > 0 {
				return network.NetworkSpec{}, errdefs.NotImplemented("IPv6 ip-range and aux-address are not supported by this VCH")
			}
			spec.Subnet6 = p
			if c.Gateway != "" {
				if spec.Gateway6, err = netip.ParseAddr(c.Gateway); err != nil || !p.Contains(spec.Gateway6) {
					return network.NetworkSpec{}, errdefs.InvalidParameter(fmt.Sprintf("invalid IPv6 gateway %s: not an address of %s", c.Gateway, c.Subnet))
				}
			}
		}
		if len(v4) > 1 {
			return network.NetworkSpec{}, errdefs.NotImplemented("this VCH takes at most one subnet per network")
		}
		if len(v4) == 1 {
			c := v4[0]
			var err error
			if c.Subnet != "" {
				if spec.Subnet, err = netip.ParsePrefix(c.Subnet); err != nil {
					return network.NetworkSpec{}, errdefs.InvalidParameter(fmt.Sprintf("invalid subnet %s: %v", c.Subnet, err))
				}
			}
			if c.IPRange != "" {
				if spec.IPRange, err = netip.ParsePrefix(c.IPRange); err != nil {
					return network.NetworkSpec{}, errdefs.InvalidParameter(fmt.Sprintf("invalid ip-range %s: %v", c.IPRange, err))
				}
			}
			if c.Gateway != "" {
				if spec.Gateway, err = netip.ParseAddr(c.Gateway); err != nil {
					return network.NetworkSpec{}, errdefs.InvalidParameter(fmt.Sprintf("invalid gateway %s: %v", c.Gateway, err))
				}
			}
			if len(c.AuxAddress) > 0 {
				return network.NetworkSpec{}, errdefs.NotImplemented("aux-address is not supported by this VCH")
			}
		}
	}
	return spec, nil
}

// NetworkRemove answers docker network rm.
func (b *Backend) NetworkRemove(ctx context.Context, nameOrID string) error {
	n, err := b.net.Network(ctx, nameOrID)
	if err != nil {
		return err
	}
	if err := b.mgr.RemoveNetwork(ctx, n.ID); err != nil {
		return err
	}
	b.event(n, events.ActionDestroy)
	return nil
}

// NetworksPrune removes user-defined networks no container is on
// (filters: label, label!, until).
func (b *Backend) NetworksPrune(ctx context.Context, f filters.Args) (dnetwork.PruneReport, error) {
	if err := f.Validate(map[string]bool{"label": true, "label!": true, "until": true}); err != nil {
		return dnetwork.PruneReport{}, errdefs.InvalidParameter(err.Error())
	}
	until, err := untilFilter(f, b.now())
	if err != nil {
		return dnetwork.PruneReport{}, err
	}
	nets, err := b.net.Networks(ctx)
	if err != nil {
		return dnetwork.PruneReport{}, err
	}
	used, err := b.users(ctx)
	if err != nil {
		return dnetwork.PruneReport{}, err
	}
	rep := dnetwork.PruneReport{NetworksDeleted: []string{}}
	for _, n := range nets {
		if !n.UserDefined || len(used[n.ID]) > 0 || !f.MatchKVList("label", n.Labels) {
			continue
		}
		if f.Contains("label!") && matchAnyLabel(f.Get("label!"), n.Labels) {
			continue
		}
		if !until.IsZero() && !n.Created.Before(until) {
			continue
		}
		if err := b.mgr.RemoveNetwork(ctx, n.ID); err != nil {
			if errdefs.IsForbidden(err) || errdefs.IsNotFound(err) {
				continue // joined or removed meanwhile
			}
			return rep, err
		}
		b.event(n, events.ActionDestroy)
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	return rep, nil
}

func untilFilter(f filters.Args, now time.Time) (time.Time, error) {
	vs := f.Get("until")
	if len(vs) == 0 {
		return time.Time{}, nil
	}
	if len(vs) > 1 {
		return time.Time{}, errdefs.InvalidParameter("more than one until filter specified")
	}
	v := vs[0]
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	var sec, nsec int64
	if _, err := fmt.Sscanf(v, "%d.%d", &sec, &nsec); err == nil {
		return time.Unix(sec, nsec), nil
	}
	if _, err := fmt.Sscanf(v, "%d", &sec); err == nil {
		return time.Unix(sec, 0), nil
	}
	return time.Time{}, errdefs.InvalidParameter(fmt.Sprintf("failed to parse value %s of until filter", v))
}

// matchAnyLabel: one of "key" or "key=value" matches labels.
func matchAnyLabel(want []string, labels map[string]string) bool {
	for _, w := range want {
		k, v, hasV := strings.Cut(w, "=")
		if have, ok := labels[k]; ok && (!hasV || have == v) {
			return true
		}
	}
	return false
}

// users maps network IDs to the containers joined to them.
func (b *Backend) users(ctx context.Context) (map[string][]string, error) {
	cs, err := b.eps.Containers(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, c := range cs {
		eps, err := b.eps.Endpoints(ctx, c)
		if err != nil {
			return nil, err
		}
		for _, ep := range eps {
			out[ep.Network] = append(out[ep.Network], c)
		}
	}
	return out, nil
}

// NetworkList answers docker network ls (filters: name, id, driver, type,
// scope, label, dangling).
func (b *Backend) NetworkList(ctx context.Context, f filters.Args) ([]dnetwork.Summary, error) {
	if err := f.Validate(map[string]bool{"name": true, "id": true, "driver": true, "type": true, "scope": true, "label": true, "dangling": true}); err != nil {
		return nil, errdefs.InvalidParameter(err.Error())
	}
	for _, t := range f.Get("type") {
		if t != "custom" && t != "builtin" {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid filter: 'type'='%s'", t))
		}
	}
	var dangling *bool
	if f.Contains("dangling") {
		switch {
		case f.ExactMatch("dangling", "true") || f.ExactMatch("dangling", "1"):
			v := true
			dangling = &v
		case f.ExactMatch("dangling", "false") || f.ExactMatch("dangling", "0"):
			v := false
			dangling = &v
		default:
			return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid filter 'dangling=%s'", f.Get("dangling")))
		}
	}
	nets, err := b.net.Networks(ctx)
	if err != nil {
		return nil, err
	}
	used, err := b.users(ctx)
	if err != nil {
		return nil, err
	}
	out := []dnetwork.Summary{}
	for _, n := range nets {
		typ := "builtin"
		if n.UserDefined {
			typ = "custom"
		}
		switch {
		case f.Contains("name") && !f.Match("name", n.Name),
			f.Contains("id") && !matchPrefix(f.Get("id"), n.ID),
			f.Contains("driver") && !f.ExactMatch("driver", n.Driver),
			f.Contains("type") && !f.ExactMatch("type", typ),
			f.Contains("scope") && !f.ExactMatch("scope", "local"),
			!f.MatchKVList("label", n.Labels),
			dangling != nil && *dangling != (n.UserDefined && len(used[n.ID]) == 0):
			continue
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
	cfg := dnetwork.IPAMConfig{Subnet: n.Subnet.String(), Gateway: n.Gateway.String()}
	if n.IPRange.IsValid() {
		cfg.IPRange = n.IPRange.String()
	}
	cfgs := []dnetwork.IPAMConfig{cfg}
	if n.Subnet6.IsValid() {
		cfgs = append(cfgs, dnetwork.IPAMConfig{Subnet: n.Subnet6.String(), Gateway: n.Gateway6.String()})
	}
	out := dnetwork.Inspect{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		EnableIPv4: true, EnableIPv6: n.Subnet6.IsValid(), Internal: n.Internal,
		IPAM:       dnetwork.IPAM{Driver: "default", Options: map[string]string{}, Config: cfgs},
		Containers: map[string]dnetwork.EndpointResource{},
		Options:    map[string]string{},
		Labels:     map[string]string{},
	}
	maps.Copy(out.Options, n.Options)
	maps.Copy(out.Labels, n.Labels)
	if n.Container {
		out.Options = map[string]string{
			"com.docker.network.bridge.name": n.Bridge,
			"vch.container-network.ip-range": n.RangeFrom.String() + "-" + n.RangeTo.String(),
			"vch.container-network.firewall": n.Firewall,
		}
		for i, d := range n.DNS {
			out.Options[fmt.Sprintf("vch.container-network.dns.%d", i)] = d.String()
		}
	} else if !n.UserDefined {
		out.Options = map[string]string{
			"com.docker.network.bridge.name":                 n.Bridge,
			"com.docker.network.bridge.default_bridge":       "true",
			"com.docker.network.bridge.enable_ip_masquerade": "true",
		}
	}
	return out
}
