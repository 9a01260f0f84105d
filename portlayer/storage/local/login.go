package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// Login checks auth against the registry at host the way docker login does:
// GET /v2/, answer the registry's challenge (basic, or a bearer token
// fetched with the credentials) and expect 200. Only the host and the
// outcome are logged, never the credentials.
func (s *Store) Login(ctx context.Context, host string, auth storage.Auth) (string, error) {
	if err := s.opts.policy.allowed(host); err != nil {
		return "", err
	}
	var token string
	creds := func(string) (string, string, error) {
		if auth.IdentityToken != "" {
			return "", auth.IdentityToken, nil
		}
		return auth.Username, auth.Password, nil
	}
	hosts, err := s.hosts(docker.WithAuthCreds(creds), docker.WithFetchRefreshToken(func(_ context.Context, t string, _ *http.Request) {
		token = t
	}))(host)
	if err != nil {
		return "", errdefs.InvalidParameter(fmt.Sprintf("registry %s: %v", host, err))
	}
	if len(hosts) == 0 {
		return "", errdefs.InvalidParameter("no registry endpoint for " + host)
	}
	h := hosts[0]
	endpoint := h.Scheme + "://" + h.Host + h.Path + "/"
	log := s.log.With(zap.String("registry", host))

	resp, err := s.ping(ctx, h, endpoint, false)
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		authErr := h.Authorizer.AddResponses(ctx, []*http.Response{resp})
		resp.Body.Close()
		if authErr != nil {
			log.Info("login refused", zap.Error(authErr))
			return "", errdefs.New(errdefs.ErrUnauthorized, fmt.Sprintf("login attempt to %s failed: %v", endpoint, authErr))
		}
		if resp, err = s.ping(ctx, h, endpoint, true); err != nil {
			if errors.Is(err, errdefs.ErrUnauthorized) {
				log.Info("login refused", zap.Error(err))
			}
			return "", err
		}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		log.Info("login refused", zap.Int("status", resp.StatusCode))
		msg := fmt.Sprintf("login attempt to %s failed with status: %d %s", endpoint, resp.StatusCode, http.StatusText(resp.StatusCode))
		if resp.StatusCode == http.StatusUnauthorized {
			return "", errdefs.New(errdefs.ErrUnauthorized, msg)
		}
		return "", errdefs.Unavailable(msg)
	}
	log.Info("login succeeded")
	return token, nil
}

// ping sends GET endpoint, authorized when authorize is set.
func (s *Store) ping(ctx context.Context, h docker.RegistryHost, endpoint string, authorize bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, errdefs.InvalidParameter(err.Error())
	}
	if authorize {
		if err := h.Authorizer.Authorize(ctx, req); err != nil {
			// containerd fetches the bearer token here: a refusal of the
			// credentials by the token server is the registry's answer.
			return nil, errdefs.New(errdefs.ErrUnauthorized, fmt.Sprintf("Get %q: %s", endpoint, tokenRefusal(err)))
		}
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, errdefs.Unavailable(fmt.Sprintf("Get %q: %v", endpoint, err))
	}
	return resp, nil
}

// tokenRefusal words a token server's refusal as docker does: a 401 is
// "unauthorized: " and the server's own message (the registry error
// format, or the {"details": ...} that Docker Hub's token server sends).
func tokenRefusal(err error) string {
	var st remoteerrors.ErrUnexpectedStatus
	if !errors.As(err, &st) || st.StatusCode != http.StatusUnauthorized {
		return err.Error()
	}
	var body struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
		Details string `json:"details"`
	}
	msg := "authentication required"
	if json.Unmarshal(st.Body, &body) == nil {
		switch {
		case len(body.Errors) > 0 && body.Errors[0].Message != "":
			msg = body.Errors[0].Message
		case body.Details != "":
			msg = body.Details
		}
	}
	return "unauthorized: " + msg
}
