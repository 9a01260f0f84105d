package local

import (
	"net"
	"net/http"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"

	"github.com/vchproject/vch/portlayer/storage"
)

// resolver is containerd's docker resolver for one pull: plain HTTP for
// the hosts s.opts.plainHTTP names (loopback by default), HTTPS for the
// rest, and auth's credentials. Username/Password (or an identity token,
// which containerd exchanges as a refresh token) answer the registry's
// basic or token challenges; a registry token is sent as a bearer token
// on every request, as Docker does.
func (s *Store) resolver(auth *storage.Auth) remotes.Resolver {
	return s.resolverTracked(auth, nil)
}

// resolverTracked is resolver with containerd's push status tracker (nil:
// its own).
func (s *Store) resolverTracked(auth *storage.Auth, tracker docker.StatusTracker) remotes.Resolver {
	var aopts []docker.AuthorizerOpt
	var headers http.Header
	if auth != nil {
		a := *auth
		if a.Username != "" || a.IdentityToken != "" {
			aopts = append(aopts, docker.WithAuthCreds(func(string) (string, string, error) {
				if a.IdentityToken != "" {
					return "", a.IdentityToken, nil
				}
				return a.Username, a.Password, nil
			}))
		}
		if a.RegistryToken != "" {
			headers = http.Header{"Authorization": {"Bearer " + a.RegistryToken}}
		}
	}
	return docker.NewResolver(docker.ResolverOptions{
		Headers: headers,
		Hosts:   s.hosts(aopts...),
		Tracker: tracker,
	})
}

// isLoopbackHost reports whether host ("name[:port]") is localhost or a
// loopback address, which Docker speaks to in plain HTTP.
func isLoopbackHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
