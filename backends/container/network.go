package container

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	dnetwork "github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
)

// endpointSpec turns docker's network mode and port options into the
// endpoint the container joins first; nil for --network none.
func endpointSpec(hc *container.HostConfig, cfg *container.Config, nc *dnetwork.NetworkingConfig) (*network.EndpointSpec, error) {
	mode := hc.NetworkMode
	switch {
	case mode.IsNone():
		if len(hc.PortBindings) > 0 || hc.PublishAllPorts {
			return nil, errdefs.InvalidParameter("conflicting options: port publishing and the container type network mode")
		}
		return nil, nil
	case mode.IsHost():
		return nil, errdefs.NotImplemented("--network host is not supported by a VCH: a container is a VM")
	case mode.IsContainer():
		return nil, errdefs.NotImplemented("--network container:NAME is not supported by this VCH yet")
	}
	spec := &network.EndpointSpec{Network: string(mode)}
	if err := applyEndpointSettings(spec, nc.EndpointsConfig[string(mode)]); err != nil {
		return nil, err
	}
	//lint:ignore SA1019 clients below API 1.44 (docker-py 5, compose v1) send --mac-address in Config; dockerd applies it to the first network
	if mac := cfg.MacAddress; spec.MACAddress == "" && mac != "" {
		if err := setMAC(spec, mac); err != nil {
			return nil, err
		}
	}
	ports, err := portBindings(hc, cfg)
	if err != nil {
		return nil, err
	}
	spec.Ports = ports
	return spec, nil
}

// setMAC takes a requested MAC address (--mac-address), with dockerd's
// 400 for one that does not parse.
func setMAC(spec *network.EndpointSpec, mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return errdefs.InvalidParameter(fmt.Sprintf("invalid MAC address %s", mac))
	}
	spec.MACAddress = hw.String()
	return nil
}

// applyEndpointSettings takes docker's per-network settings: aliases,
// the static IPv4 address and the MAC address.
func applyEndpointSettings(spec *network.EndpointSpec, es *dnetwork.EndpointSettings) error {
	if es == nil {
		return nil
	}
	spec.Aliases = append(spec.Aliases, es.Aliases...)
	if es.MacAddress != "" {
		if err := setMAC(spec, es.MacAddress); err != nil {
			return err
		}
	}
	if c := es.IPAMConfig; c != nil {
		if c.IPv6Address != "" {
			a, err := netip.ParseAddr(c.IPv6Address)
			if err != nil || !a.Is6() || a.Is4In6() {
				return errdefs.InvalidParameter(fmt.Sprintf("invalid IPv6 address: %s", c.IPv6Address))
			}
			spec.IPv6 = a
		}
		if c.IPv4Address != "" {
			a, err := netip.ParseAddr(c.IPv4Address)
			if err != nil || !a.Is4() {
				return errdefs.InvalidParameter(fmt.Sprintf("invalid IPv4 address: %s", c.IPv4Address))
			}
			spec.IPv4 = a
		}
	}
	return nil
}

// endpointSpecs is every network the container joins at create: the
// network mode's first, then the other EndpointsConfig entries (API 1.44+,
// compose), each checked against the network it names. name is the
// container's name, id its ID: with the aliases they are the endpoint's
// DNS names.
func (b *Backend) endpointSpecs(ctx context.Context, hc *container.HostConfig, cfg *container.Config, nc *dnetwork.NetworkingConfig, name, id string) ([]network.EndpointSpec, error) {
	first, err := endpointSpec(hc, cfg, nc)
	if err != nil || first == nil {
		return nil, err
	}
	specs := []network.EndpointSpec{*first}
	keys := make([]string, 0, len(nc.EndpointsConfig))
	for k := range nc.EndpointsConfig {
		if k != first.Network {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		spec := network.EndpointSpec{Network: k}
		if err := applyEndpointSettings(&spec, nc.EndpointsConfig[k]); err != nil {
			return nil, err
		}
		specs = append(specs, spec)
	}
	if len(specs) > network.MaxEndpoints {
		return nil, errdefs.InvalidParameter(fmt.Sprintf("a container VM of this VCH can be on at most %d networks", network.MaxEndpoints))
	}
	seen := map[string]bool{}
	for i := range specs {
		n, err := b.checkEndpoint(ctx, &specs[i], name, id, hc.DNS)
		if err != nil {
			return nil, err
		}
		if seen[n.ID] {
			return nil, alreadyJoined(name, n.Name)
		}
		seen[n.ID] = true
	}
	return specs, nil
}

func alreadyJoined(name, network string) error {
	return errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("endpoint with name %s already exists in network %s", strings.TrimPrefix(name, "/"), network))
}

// checkEndpoint checks spec against the network it names (docker's rules
// for aliases and static addresses) and sets its DNS names and, from the
// container's --dns, the servers the network's DNS forwards it to.
func (b *Backend) checkEndpoint(ctx context.Context, spec *network.EndpointSpec, name, id string, dns []string) (network.Network, error) {
	n, err := b.net.Network(ctx, spec.Network)
	if err != nil {
		return network.Network{}, err
	}
	spec.Upstreams = nil
	for _, d := range dns {
		if a, err := netip.ParseAddr(d); err == nil {
			spec.Upstreams = append(spec.Upstreams, a)
		}
	}
	if !n.UserDefined {
		if len(spec.Aliases) > 0 && !n.Container {
			return network.Network{}, errdefs.InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
		}
		if (spec.IPv4.IsValid() || spec.IPv6.IsValid()) && !n.Container {
			return network.Network{}, errdefs.InvalidParameter("user specified IP address is supported on user defined networks only")
		}
		if n.Container {
			// The VCH's DNS on the container network answers these.
			spec.DNSNames = dnsNames(name, id, spec.Aliases)
		}
		return n, nil // a container network's --ip/--ip6: Join checks its range
	}
	if spec.IPv4.IsValid() && !n.SubnetGiven {
		return network.Network{}, errdefs.InvalidParameter("user specified IP address is supported only when connecting to networks with user configured subnets")
	}
	if spec.IPv4.IsValid() && !n.Subnet.Contains(spec.IPv4) {
		// Checked before anything is created (Join checks it again).
		return network.Network{}, errdefs.InvalidParameter(fmt.Sprintf("no configured subnet or ip-range contain the IP address %s", spec.IPv4))
	}
	spec.DNSNames = dnsNames(name, id, spec.Aliases)
	return n, nil
}

// NetworkConnect joins a container to a network (docker network
// connect). A container that is not running gets the NIC at its next
// start; a running one gets one of the spare NICs its VM booted with
// (compute.NICPlugger), configured by the tether.
func (b *Backend) NetworkConnect(ctx context.Context, ref, netRef string, es *dnetwork.EndpointSettings) error {
	if b.net == nil {
		return errdefs.NotImplemented("this VCH has no container networking")
	}
	c, m, err := b.lookup(ctx, ref)
	if err != nil {
		return err
	}
	id, name := c.Spec.ID, m.Name
	plug, running := b.plugger(c)
	if running && plug == nil {
		return runningError(name, "connect")
	}
	mode := m.HostConfig.NetworkMode
	if mode.IsNone() || mode.IsHost() || mode.IsContainer() {
		return errdefs.InvalidParameter(fmt.Sprintf("container %s is in network mode %s and cannot be connected to other networks", strings.TrimPrefix(name, "/"), mode))
	}
	spec := network.EndpointSpec{Network: netRef}
	if err := applyEndpointSettings(&spec, es); err != nil {
		return err
	}
	n, err := b.checkEndpoint(ctx, &spec, name, id, m.HostConfig.DNS)
	if err != nil {
		return err
	}
	spec.Network = n.ID
	eps, err := b.net.Endpoints(ctx, id)
	if err != nil {
		return err
	}
	published := false
	for _, ep := range eps {
		if ep.Network == n.ID {
			return alreadyJoined(name, n.Name)
		}
		published = published || len(ep.Ports) > 0
	}
	if !published {
		// The container's -p bindings belong to its HostConfig, not to a
		// network: when no endpoint carries them (compose v1 disconnects
		// the container from its only network and connects it again with
		// more aliases before the start), the network joined now does.
		if spec.Ports, err = portBindings(m.HostConfig, m.Config); err != nil {
			return err
		}
	}
	if _, err := b.net.Join(ctx, id, spec); err != nil {
		return err
	}
	if running {
		err := plug.PlugNIC(ctx, id, func(mac string) (compute.NIC, error) { return b.net.Activate(ctx, id, n.ID, mac) })
		if err != nil {
			if lerr := b.net.Leave(context.WithoutCancel(ctx), id, n.ID); lerr != nil {
				b.log.Warn("undo network connect", zap.String("id", id), zap.Error(lerr))
			}
			return err
		}
		b.networkEvent(n, id, events.ActionConnect)
	}
	return b.updateMeta(ctx, id, func(m *Meta) {
		if m.NetworkingConfig == nil {
			m.NetworkingConfig = &dnetwork.NetworkingConfig{}
		}
		if m.NetworkingConfig.EndpointsConfig == nil {
			m.NetworkingConfig.EndpointsConfig = map[string]*dnetwork.EndpointSettings{}
		}
		saved := &dnetwork.EndpointSettings{}
		if es != nil {
			saved.Aliases, saved.IPAMConfig = es.Aliases, es.IPAMConfig
		}
		m.NetworkingConfig.EndpointsConfig[n.Name] = saved
	})
}

// NetworkDisconnect takes a container off a network (docker network
// disconnect). A running container can leave a network it was connected
// to while running (its spare NIC is parked again), not one it booted on.
func (b *Backend) NetworkDisconnect(ctx context.Context, ref, netRef string, force bool) error {
	if b.net == nil {
		return errdefs.NotImplemented("this VCH has no container networking")
	}
	c, m, err := b.lookup(ctx, ref)
	if err != nil {
		return err
	}
	id, name := c.Spec.ID, m.Name
	plug, running := b.plugger(c)
	if running && plug == nil {
		return runningError(name, "disconnect")
	}
	n, err := b.net.Network(ctx, netRef)
	if err != nil {
		return err
	}
	eps, err := b.net.Endpoints(ctx, id)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(eps, func(ep network.Endpoint) bool { return ep.Network == n.ID })
	if i < 0 {
		return errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("container %s is not connected to network %s", strings.TrimPrefix(name, "/"), n.Name))
	}
	if running && eps[i].Active {
		if err := plug.UnplugNIC(ctx, id, eps[i].MAC); err != nil {
			if errdefs.IsInvalidParameter(err) {
				return runningError(name, "disconnect")
			}
			return err
		}
	}
	if err := b.net.Leave(ctx, id, n.ID); err != nil {
		return err
	}
	if running && eps[i].Active {
		b.networkEvent(n, id, events.ActionDisconnect)
	}
	return b.updateMeta(ctx, id, func(m *Meta) {
		if m.NetworkingConfig != nil {
			delete(m.NetworkingConfig.EndpointsConfig, n.Name)
		}
	})
}

// plugger tells whether c runs and, if so, how to change its NICs (nil:
// this compute provider cannot).
func (b *Backend) plugger(c compute.Container) (compute.NICPlugger, bool) {
	if c.Status.State != compute.StateRunning {
		return nil, false
	}
	p, _ := b.pl.(compute.NICPlugger)
	return p, true
}

// runningError refuses a NIC change the running VM cannot take.
func runningError(name, verb string) error {
	return errdefs.Conflict(fmt.Sprintf("cannot %s running container %s on this network: a container VM gets its NICs at boot (no hot-plug); stop it first", verb, strings.TrimPrefix(name, "/")))
}

// dnsNames are what the embedded DNS answers for an endpoint: the
// container's name, its short ID and its aliases, each once.
func dnsNames(name, id string, aliases []string) []string {
	out := []string{strings.TrimPrefix(name, "/"), id[:12]}
	for _, a := range aliases {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// portBindings lists -p bindings, plus a random host port for every
// exposed port without one when -P is given, in a stable order.
func portBindings(hc *container.HostConfig, cfg *container.Config) ([]network.PortBinding, error) {
	var out []network.PortBinding
	keys := make([]nat.Port, 0, len(hc.PortBindings))
	for p := range hc.PortBindings {
		keys = append(keys, p)
	}
	if hc.PublishAllPorts {
		for p := range cfg.ExposedPorts {
			if _, ok := hc.PortBindings[p]; !ok {
				keys = append(keys, p)
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Int() != keys[j].Int() {
			return keys[i].Int() < keys[j].Int()
		}
		return keys[i].Proto() < keys[j].Proto()
	})
	for _, p := range keys {
		proto := p.Proto()
		if proto != "tcp" && proto != "udp" {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid proto: %s", proto))
		}
		cport, err := strconv.ParseUint(p.Port(), 10, 16)
		if err != nil || cport == 0 {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid port specification: %q", string(p)))
		}
		bs := hc.PortBindings[p]
		if len(bs) == 0 {
			bs = []nat.PortBinding{{}}
		}
		for _, b := range bs {
			pb := network.PortBinding{Proto: proto, ContainerPort: uint16(cport)}
			if b.HostIP != "" && b.HostIP != "0.0.0.0" {
				ip, err := netip.ParseAddr(b.HostIP)
				if err != nil {
					return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid IP address: %s", b.HostIP))
				}
				if ip.Is6() && ip.IsUnspecified() {
					continue // "::": docker's IPv6 twin of 0.0.0.0; IPv4 serves it here
				}
				pb.HostIP = ip
			}
			if b.HostPort != "" {
				lo, hi, err := nat.ParsePortRange(b.HostPort)
				if err != nil || lo > 65535 || hi > 65535 {
					return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid hostPort: %s", b.HostPort))
				}
				pb.HostPort = uint16(lo)
				if hi != lo {
					pb.HostPortEnd = uint16(hi)
				}
			}
			out = append(out, pb)
		}
	}
	return out, nil
}

// join records the container's endpoints; on failure it leaves the ones
// it joined.
func (b *Backend) join(ctx context.Context, id string, specs []network.EndpointSpec) error {
	if b.net == nil {
		return nil
	}
	for _, spec := range specs {
		if _, err := b.net.Join(ctx, id, spec); err != nil {
			if lerr := b.net.Leave(context.WithoutCancel(ctx), id, ""); lerr != nil {
				b.log.Warn("undo network join", zap.String("id", id), zap.Error(lerr))
			}
			return err
		}
	}
	return nil
}

// leave forgets the container's endpoints after rm.
func (b *Backend) leave(ctx context.Context, id string) {
	if b.net == nil {
		return
	}
	if err := b.net.Leave(ctx, id, ""); err != nil {
		b.log.Warn("leave networks", zap.String("id", id), zap.Error(err))
	}
}

// networkSettings is inspect's NetworkSettings: the endpoints' live state
// while the container runs, the networks it is on otherwise.
func (b *Backend) networkSettings(ctx context.Context, id string, m *Meta) *container.NetworkSettings {
	ns := &container.NetworkSettings{Networks: map[string]*dnetwork.EndpointSettings{}}
	ns.Ports = nat.PortMap{}
	if b.net == nil {
		return ns
	}
	eps, err := b.net.Endpoints(ctx, id)
	if err != nil {
		b.log.Warn("inspect: endpoints", zap.String("id", id), zap.Error(err))
		return ns
	}
	active := false
	for _, ep := range eps {
		n, err := b.net.Network(ctx, ep.Network)
		if err != nil {
			continue
		}
		es := &dnetwork.EndpointSettings{
			Aliases: ep.Aliases, NetworkID: n.ID, EndpointID: ep.ID, MacAddress: ep.MAC,
			DNSNames: ep.DNSNames,
		}
		if len(es.DNSNames) == 0 {
			es.DNSNames = []string{strings.TrimPrefix(m.Name, "/"), id[:12]}
		}
		if nc := m.NetworkingConfig; nc != nil {
			if cfg := nc.EndpointsConfig[n.Name]; cfg != nil {
				es.IPAMConfig = cfg.IPAMConfig
			}
		}
		if ep.Active {
			active = true
			es.IPAddress = ep.Address.Addr().String()
			es.IPPrefixLen = ep.Address.Bits()
			es.Gateway = ep.Gateway.String()
			if ep.Address6.IsValid() {
				es.GlobalIPv6Address, es.GlobalIPv6PrefixLen, es.IPv6Gateway = ep.Address6.Addr().String(), ep.Address6.Bits(), ep.Gateway6.String()
			}
			if n.Name == network.BridgeName {
				ns.DefaultNetworkSettings = defaultSettings(es)
			}
			for _, bd := range ep.Bound {
				p := nat.Port(fmt.Sprintf("%d/%s", bd.ContainerPort, bd.Proto))
				ns.Ports[p] = append(ns.Ports[p], nat.PortBinding{HostIP: hostIP(bd), HostPort: strconv.Itoa(int(bd.HostPort))})
			}
		} else {
			es.MacAddress = ep.MACAddress // the requested one, as dockerd shows it
		}
		ns.Networks[n.Name] = es
	}
	if active {
		for p := range m.Config.ExposedPorts {
			if _, ok := ns.Ports[p]; !ok {
				ns.Ports[p] = nil
			}
		}
		ns.SandboxID = id
	}
	return ns
}

func hostIP(b network.PortBinding) string {
	if b.HostIP.IsValid() {
		return b.HostIP.String()
	}
	return "0.0.0.0"
}

// summaryPorts is docker ps's Ports: the live bindings, then exposed
// ports without one.
func (b *Backend) summaryPorts(ctx context.Context, id string, m *Meta, running bool) ([]container.Port, map[string]*dnetwork.EndpointSettings) {
	ports := []container.Port{}
	nets := map[string]*dnetwork.EndpointSettings{}
	if b.net == nil {
		return ports, nets
	}
	eps, _ := b.net.Endpoints(ctx, id)
	bound := map[nat.Port]bool{}
	for _, ep := range eps {
		n, err := b.net.Network(ctx, ep.Network)
		if err != nil {
			continue
		}
		es := &dnetwork.EndpointSettings{NetworkID: n.ID, EndpointID: ep.ID, Aliases: ep.Aliases}
		if ep.Active {
			es.IPAddress, es.IPPrefixLen, es.Gateway, es.MacAddress = ep.Address.Addr().String(), ep.Address.Bits(), ep.Gateway.String(), ep.MAC
			for _, bd := range ep.Bound {
				ports = append(ports, container.Port{IP: hostIP(bd), PrivatePort: bd.ContainerPort, PublicPort: bd.HostPort, Type: bd.Proto})
				bound[nat.Port(fmt.Sprintf("%d/%s", bd.ContainerPort, bd.Proto))] = true
			}
		}
		nets[n.Name] = es
	}
	if running {
		for p := range m.Config.ExposedPorts {
			if !bound[p] {
				ports = append(ports, container.Port{PrivatePort: uint16(p.Int()), Type: p.Proto()})
			}
		}
	}
	return ports, nets
}

// NameOf is the container's docker name ("/web"), "" if unknown.
func (b *Backend) NameOf(id string) string { return b.index.Name(id) }

// reconcileNetwork, at vchd start, forgets the endpoints of containers
// that no longer exist and releases what stopped containers still hold
// (a crash between a VM's exit, or an rm, and the network's bookkeeping).
func (b *Backend) reconcileNetwork(ctx context.Context, cs []compute.Container) {
	if b.net == nil {
		return
	}
	running := map[string]bool{}
	known := map[string]bool{}
	for _, c := range cs {
		known[c.Spec.ID] = true
		running[c.Spec.ID] = c.Status.State == compute.StateRunning
	}
	ids, err := b.net.Containers(ctx)
	if err != nil {
		b.log.Warn("network reconcile", zap.Error(err))
		return
	}
	for _, id := range ids {
		switch {
		case !known[id]:
			b.log.Info("forgetting the endpoints of a removed container", zap.String("id", id))
			b.leave(ctx, id)
		case !running[id]:
			if err := b.net.Detach(ctx, id); err != nil {
				b.log.Warn("network reconcile", zap.String("id", id), zap.Error(err))
			}
		}
	}
}
