package container

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/vchproject/vch/errdefs"
)

// applyChanges applies docker commit's --change instructions (Dockerfile
// lines: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME,
// STOPSIGNAL, WORKDIR) to cfg, with dockerd's texts for bad ones.
func applyChanges(cfg *container.Config, changes []string) error {
	cmdSet := false
	for _, text := range changes {
		for _, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			word, rest, _ := strings.Cut(line, " ")
			if i := strings.IndexByte(word, '\t'); i >= 0 {
				word, rest = word[:i], word[i+1:]+" "+rest
			}
			rest = strings.TrimSpace(rest)
			cmd := strings.ToLower(word)
			keep := cfg.Cmd
			if err := applyChange(cfg, cmd, rest); err != nil {
				return errdefs.InvalidParameter(err.Error())
			}
			switch cmd {
			case "cmd":
				cmdSet = true
			case "entrypoint":
				if cmdSet {
					cfg.Cmd = keep
				}
			}
		}
	}
	return nil
}

func applyChange(cfg *container.Config, cmd, rest string) error {
	switch cmd {
	case "cmd":
		cfg.Cmd = execForm(rest, true)
	case "entrypoint":
		cfg.Entrypoint = execForm(rest, true)
		cfg.Cmd = nil // as docker: a new entrypoint drops a CMD not set before it
	case "env", "label":
		kv, err := keyValues(strings.ToUpper(cmd), rest)
		if err != nil {
			return err
		}
		for _, p := range kv {
			if cmd == "env" {
				cfg.Env = setEnv(cfg.Env, p[0], p[1])
				continue
			}
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			cfg.Labels[p[0]] = p[1]
		}
	case "expose":
		ports := strings.Fields(rest)
		if len(ports) == 0 {
			return fmt.Errorf("EXPOSE requires at least one argument")
		}
		ps, _, err := nat.ParsePortSpecs(ports)
		if err != nil {
			return err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = nat.PortSet{}
		}
		for p := range ps {
			cfg.ExposedPorts[p] = struct{}{}
		}
	case "user", "stopsignal":
		if rest == "" {
			return fmt.Errorf("%s requires exactly one argument", strings.ToUpper(cmd))
		}
		if cmd == "user" {
			cfg.User = rest
		} else {
			cfg.StopSignal = rest
		}
	case "workdir":
		if rest == "" {
			return fmt.Errorf("WORKDIR requires exactly one argument")
		}
		if !path.IsAbs(rest) {
			rest = path.Join("/", cfg.WorkingDir, rest)
		}
		cfg.WorkingDir = path.Clean(rest)
	case "volume":
		vols := execForm(rest, false)
		if len(vols) == 0 {
			return fmt.Errorf("VOLUME requires at least one argument")
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			if v = strings.TrimSpace(v); v == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case "onbuild":
		if rest == "" {
			return fmt.Errorf("ONBUILD requires at least one argument")
		}
		cfg.OnBuild = append(cfg.OnBuild, rest)
	default:
		return fmt.Errorf("%s is not a valid change command", cmd)
	}
	return nil
}

// execForm parses a JSON array, or else the shell form: a command line
// run by /bin/sh -c when shell is set, else whitespace-separated words.
func execForm(rest string, shell bool) []string {
	if strings.HasPrefix(rest, "[") {
		var out []string
		if json.Unmarshal([]byte(rest), &out) == nil {
			return out
		}
	}
	if !shell {
		return strings.Fields(rest)
	}
	return []string{"/bin/sh", "-c", rest}
}

// keyValues parses ENV and LABEL: "k=v k2=\"v 2\"" or the old "k v".
func keyValues(cmd, rest string) ([][2]string, error) {
	words, err := shellWords(rest)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("%s requires at least one argument", cmd)
	}
	if !strings.Contains(words[0], "=") {
		// The old form: the key, then the rest of the line as it is.
		key, val, _ := strings.Cut(rest, " ")
		val = strings.TrimSpace(val)
		if val == "" {
			return nil, fmt.Errorf("%s must have two arguments", cmd)
		}
		return [][2]string{{key, val}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			//lint:ignore ST1005 dockerd's text
			return nil, fmt.Errorf("Syntax error - can't find = in %q. Must be of the form: name=value", w)
		}
		if k == "" {
			return nil, fmt.Errorf("%s names can not be blank", cmd)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// shellWords splits s at unquoted blanks, removing quotes and the
// backslashes that escape a character.
func shellWords(s string) ([]string, error) {
	var (
		out   []string
		cur   strings.Builder
		in    bool
		quote rune
		esc   bool
	)
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc, in = false, true
		case r == '\\' && quote != '\'':
			esc = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unexpected end of statement while looking for matching %c", quote)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if name, _, _ := strings.Cut(e, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// mergeCommitConfig fills what user (the request's config with the
// changes applied) leaves empty from the container's config, as dockerd's
// commit does.
func mergeCommitConfig(user, c *container.Config) {
	if user.User == "" {
		user.User = c.User
	}
	if len(c.ExposedPorts) > 0 {
		if user.ExposedPorts == nil {
			user.ExposedPorts = nat.PortSet{}
		}
		for p := range c.ExposedPorts {
			user.ExposedPorts[p] = struct{}{}
		}
	}
	user.Env = unionEnv(user.Env, c.Env)
	for k, v := range c.Labels {
		if user.Labels == nil {
			user.Labels = map[string]string{}
		}
		if _, ok := user.Labels[k]; !ok {
			user.Labels[k] = v
		}
	}
	if len(user.Entrypoint) == 0 {
		if len(user.Cmd) == 0 {
			user.Cmd = c.Cmd
			user.ArgsEscaped = c.ArgsEscaped
		}
		if user.Entrypoint == nil {
			user.Entrypoint = c.Entrypoint
		}
	}
	if user.Healthcheck == nil {
		user.Healthcheck = c.Healthcheck
	}
	if user.WorkingDir == "" {
		user.WorkingDir = c.WorkingDir
	}
	for v := range c.Volumes {
		if user.Volumes == nil {
			user.Volumes = map[string]struct{}{}
		}
		user.Volumes[v] = struct{}{}
	}
	if user.StopSignal == "" {
		user.StopSignal = c.StopSignal
	}
	if len(user.OnBuild) == 0 {
		user.OnBuild = c.OnBuild
	}
}
