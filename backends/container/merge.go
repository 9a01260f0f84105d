package container

import (
	"fmt"
	"path"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/vchproject/vch/errdefs"
)

// defaultPath is docker's PATH for containers whose image sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// mergeConfig fills the user's config from the image's, with docker's
// rules: user values win; Env and Labels and ExposedPorts and Volumes are
// unions; an Entrypoint given at create time drops the image's Cmd unless a
// Cmd is given too. It returns docker's errors for no command and a
// relative working directory. user is modified and returned.
func mergeConfig(user *container.Config, img dockerspec.DockerOCIImageConfig) (*container.Config, error) {
	if user.User == "" {
		user.User = img.User
	}
	if len(user.ExposedPorts) == 0 && len(img.ExposedPorts) > 0 {
		user.ExposedPorts = nat.PortSet{}
	}
	for p := range img.ExposedPorts {
		if _, ok := user.ExposedPorts[nat.Port(p)]; !ok {
			user.ExposedPorts[nat.Port(p)] = struct{}{}
		}
	}
	user.Env = unionEnv(user.Env, img.Env)
	if user.Labels == nil {
		user.Labels = map[string]string{}
	}
	for k, v := range img.Labels {
		if _, ok := user.Labels[k]; !ok {
			user.Labels[k] = v
		}
	}
	if len(user.Entrypoint) == 0 {
		if len(user.Cmd) == 0 {
			user.Cmd = append([]string(nil), img.Cmd...)
		}
		if user.Entrypoint == nil {
			user.Entrypoint = append([]string(nil), img.Entrypoint...)
		}
	}
	if user.WorkingDir == "" {
		user.WorkingDir = img.WorkingDir
	}
	if len(user.Volumes) == 0 && len(img.Volumes) > 0 {
		user.Volumes = map[string]struct{}{}
	}
	for v := range img.Volumes {
		user.Volumes[v] = struct{}{}
	}
	if user.StopSignal == "" {
		user.StopSignal = img.StopSignal
	}
	if user.Healthcheck == nil && img.Healthcheck != nil {
		h := *img.Healthcheck
		user.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	if len(user.Entrypoint) == 1 && user.Entrypoint[0] == "" {
		user.Entrypoint = nil
	}
	if len(user.Entrypoint) == 0 && len(user.Cmd) == 0 {
		return nil, errdefs.InvalidParameter("no command specified")
	}
	if wd := user.WorkingDir; wd != "" {
		if !path.IsAbs(wd) {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("the working directory '%s' is invalid, it needs to be an absolute path", wd))
		}
		user.WorkingDir = path.Clean(wd)
	}
	return user, nil
}

// entrypointAndArgs is docker's Path and Args.
func entrypointAndArgs(entrypoint, cmd []string) (string, []string) {
	if len(entrypoint) == 0 {
		return cmd[0], append([]string{}, cmd[1:]...)
	}
	return entrypoint[0], append(append([]string{}, entrypoint[1:]...), cmd...)
}

// processEnv is the environment the main process gets: docker's PATH and
// HOSTNAME (and TERM with a TTY), then the legacy links' variables,
// overridden by the container's Env.
func processEnv(cfg *container.Config, links []string) []string {
	env := []string{"PATH=" + defaultPath, "HOSTNAME=" + cfg.Hostname}
	if cfg.Tty {
		env = append(env, "TERM=xterm")
	}
	env = append(env, links...)
	for _, e := range cfg.Env {
		key, _, _ := strings.Cut(e, "=")
		replaced := false
		for i, have := range env {
			if k, _, _ := strings.Cut(have, "="); k == key {
				env[i] = e
				replaced = true
				break
			}
		}
		if !replaced {
			env = append(env, e)
		}
	}
	return env
}

// consoleSize is the initial TTY size the client asked for at create
// ([height, width] in the API), clamped to what a winsize holds.
func consoleSize(tty bool, cs [2]uint) [2]uint16 {
	if !tty || cs[0] == 0 || cs[1] == 0 || cs[0] > 0xffff || cs[1] > 0xffff {
		return [2]uint16{}
	}
	return [2]uint16{uint16(cs[0]), uint16(cs[1])}
}

// unionEnv returns env with the entries of base whose variable env does
// not set appended: the user's values win, as in docker's config merges.
func unionEnv(env, base []string) []string {
	if len(env) == 0 {
		return append([]string(nil), base...)
	}
	set := make(map[string]bool, len(env))
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		set[k] = true
	}
	for _, e := range base {
		if k, _, _ := strings.Cut(e, "="); !set[k] {
			env = append(env, e)
		}
	}
	return env
}
