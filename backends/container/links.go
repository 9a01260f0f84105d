package container

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
)

// link is one resolved legacy link (--link target:alias).
type link struct {
	alias  string
	target string // the target's name, without the leading /
	ip     string // its address on the network both share
	bridge bool   // a legacy link on the default bridge: env vars too
	cfg    *container.Config
}

// resolveLinks resolves legacy links (--link target:alias) against the
// networks the new container joins; the target must be running on one of
// them. docker-compose 1.x sends links for `run` on user-defined
// networks, where docker resolves a link's alias to the target's address
// for the linking container only. On the default bridge docker's legacy
// links also give the linking container environment variables (see
// linkEnv). Links on the VCH's container networks are unsupported.
func (b *Backend) resolveLinks(ctx context.Context, links []string, eps []network.EndpointSpec) ([]link, error) {
	if len(links) == 0 {
		return nil, nil
	}
	if b.net == nil || len(eps) == 0 {
		return nil, errLinks
	}
	mine := map[string]bool{}
	bridge := map[string]bool{}
	for _, ep := range eps {
		n, err := b.net.Network(ctx, ep.Network)
		if err != nil {
			return nil, err
		}
		if !n.UserDefined && n.Name != network.BridgeName {
			return nil, errLinks
		}
		mine[n.ID] = true
		bridge[n.ID] = n.Name == network.BridgeName
	}
	var out []link
	for _, l := range links {
		target, alias, _ := strings.Cut(l, ":")
		target = strings.TrimPrefix(target, "/")
		if i := strings.LastIndex(alias, "/"); i >= 0 {
			alias = alias[i+1:] // the daemon's own form: /target:/container/alias
		}
		if alias == "" {
			alias = target
		}
		id, err := b.lookupID(target)
		if err != nil {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("could not get container for %s", target))
		}
		tEps, err := b.net.Endpoints(ctx, id)
		if err != nil {
			return nil, err
		}
		var found *link
		for _, ep := range tEps {
			if mine[ep.Network] && ep.Active {
				found = &link{alias: alias, target: strings.TrimPrefix(b.index.Name(id), "/"), ip: ep.Address.Addr().String(), bridge: bridge[ep.Network]}
				break
			}
		}
		if found == nil {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("cannot link to %s: it is not running on a network this container joins", target))
		}
		if found.bridge {
			_, m, err := b.read(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("link to %s: %w", target, err)
			}
			found.cfg = m.Config
		}
		out = append(out, *found)
	}
	return out, nil
}

// linkHosts are the /etc/hosts entries of links: the alias and the
// target's name (on the default bridge also the target's hostname, as
// docker writes them).
func linkHosts(links []link) []compute.HostEntry {
	var out []compute.HostEntry
	for _, l := range links {
		names := []string{l.alias}
		if l.bridge && l.cfg != nil && l.cfg.Hostname != "" && l.cfg.Hostname != l.alias {
			names = append(names, l.cfg.Hostname)
		}
		if l.alias != l.target {
			names = append(names, l.target)
		}
		out = append(out, compute.HostEntry{IP: l.ip, Names: names})
	}
	return out
}

// linkEnv is docker's environment for legacy links on the default bridge,
// for the container named name: ALIAS_NAME=/name/alias, the target's
// environment as ALIAS_ENV_KEY (HOME and PATH left out), and for each
// port the target exposes ALIAS_PORT_80_TCP=tcp://ip:80 with _ADDR,
// _PORT and _PROTO, ALIAS_PORT holding the lowest port.
func linkEnv(name string, links []link) []string {
	var env []string
	for _, l := range links {
		if !l.bridge {
			continue
		}
		prefix := strings.ReplaceAll(strings.ToUpper(l.alias), "-", "_")
		var ports []nat.Port
		if l.cfg != nil {
			for p := range l.cfg.ExposedPorts {
				ports = append(ports, p)
			}
		}
		sort.Slice(ports, func(i, j int) bool {
			if ports[i].Int() != ports[j].Int() {
				return ports[i].Int() < ports[j].Int()
			}
			return ports[i].Proto() == "tcp" && ports[j].Proto() != "tcp"
		})
		if len(ports) > 0 {
			env = append(env, fmt.Sprintf("%s_PORT=%s://%s:%s", prefix, ports[0].Proto(), l.ip, ports[0].Port()))
		}
		for _, p := range ports {
			key := fmt.Sprintf("%s_PORT_%s_%s", prefix, p.Port(), strings.ToUpper(p.Proto()))
			env = append(env,
				fmt.Sprintf("%s=%s://%s:%s", key, p.Proto(), l.ip, p.Port()),
				fmt.Sprintf("%s_ADDR=%s", key, l.ip),
				fmt.Sprintf("%s_PORT=%s", key, p.Port()),
				fmt.Sprintf("%s_PROTO=%s", key, p.Proto()))
		}
		env = append(env, fmt.Sprintf("%s_NAME=/%s/%s", prefix, strings.TrimPrefix(name, "/"), l.alias))
		if l.cfg != nil {
			for _, kv := range l.cfg.Env {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "HOME" || k == "PATH" {
					continue
				}
				env = append(env, fmt.Sprintf("%s_ENV_%s=%s", prefix, k, v))
			}
		}
	}
	return env
}

var errLinks = errdefs.NotImplemented("legacy container links (--link) are not supported by this VCH on its container networks: put the containers on a user-defined network (docker network create) and reach them by name")
