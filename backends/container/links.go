package container

import (
	"context"
	"fmt"
	"strings"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
)

// linkHosts turns legacy links (--link target:alias) into /etc/hosts
// entries when the container joins user-defined networks, which is what
// docker-compose 1.x sends for `run` (links to the service's own running
// containers). On a user-defined network docker resolves a link's alias
// to the target's address, for the linking container only; here the
// entry holds the address the running target has on a network both are
// on. A target that is not running there is refused. Links on the
// default bridge (environment variables, /etc/hosts on both sides) stay
// unsupported.
func (b *Backend) linkHosts(ctx context.Context, links []string, eps []network.EndpointSpec) ([]compute.HostEntry, error) {
	if len(links) == 0 {
		return nil, nil
	}
	if b.net == nil || len(eps) == 0 {
		return nil, errLinks
	}
	mine := map[string]bool{}
	for _, ep := range eps {
		n, err := b.net.Network(ctx, ep.Network)
		if err != nil {
			return nil, err
		}
		if !n.UserDefined {
			return nil, errLinks
		}
		mine[n.ID] = true
	}
	var out []compute.HostEntry
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
		found := false
		for _, ep := range tEps {
			if mine[ep.Network] && ep.Active {
				names := []string{alias}
				if alias != target {
					names = append(names, target)
				}
				out = append(out, compute.HostEntry{IP: ep.Address.Addr().String(), Names: names})
				found = true
				break
			}
		}
		if !found {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("cannot link to %s: it is not running on a network this container joins", target))
		}
	}
	return out, nil
}

var errLinks = errdefs.NotImplemented("legacy container links (--link) are not supported by this VCH on the default bridge: put the containers on a user-defined network (docker network create) and reach them by name")
