package execspec

import "strings"

// DefaultPath is the PATH a container gets when its config has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Env returns the main process's environment: PATH (DefaultPath),
// HOSTNAME and, with a TTY, TERM=xterm, unless env sets them; then env
// (a later duplicate of a name replaces the earlier value in place); then
// HOME unless env sets it.
func Env(env []string, hostname, home string, tty bool) []string {
	var out []string
	at := map[string]int{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := at[k]; ok {
			out[i] = kv
			return
		}
		at[k] = len(out)
		out = append(out, kv)
	}
	has := func(name string) bool {
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); k == name {
				return true
			}
		}
		return false
	}
	if !has("PATH") {
		set("PATH=" + DefaultPath)
	}
	if !has("HOSTNAME") {
		set("HOSTNAME=" + hostname)
	}
	if tty && !has("TERM") {
		set("TERM=xterm")
	}
	for _, kv := range env {
		if kv != "" {
			set(kv)
		}
	}
	if !has("HOME") {
		set("HOME=" + home)
	}
	return out
}

// Lookup returns the value of name in env (the last one wins).
func Lookup(env []string, name string) (string, bool) {
	v, ok := "", false
	for _, kv := range env {
		if k, val, found := strings.Cut(kv, "="); found && k == name {
			v, ok = val, true
		}
	}
	return v, ok
}
