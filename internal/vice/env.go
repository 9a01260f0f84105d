package vice

import "strings"

// EnvPrefix starts the environment variables that carry guestinfo keys
// into a govmomi simulator VM backed by a docker container: key
// guestinfo.a.b is VMX_GUESTINFO_A_B (upper case, '.' as '_').
const EnvPrefix = "VMX_GUESTINFO_"

// FromEnv returns the guestinfo keys of such an environment ("K=V"
// entries), names in lower case with '.' again. The mapping is lossless
// for this schema's keys, which are [a-z0-9.] only.
func FromEnv(environ []string) map[string]string {
	kv := map[string]string{}
	for _, e := range environ {
		k, v, ok := strings.Cut(e, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) {
			continue
		}
		kv["guestinfo."+strings.ReplaceAll(strings.ToLower(k[len(EnvPrefix):]), "_", ".")] = v
	}
	return kv
}

// ToEnv is the environment the simulator gives a VM with extraConfig kv,
// for this schema's keys, sorted by key.
func ToEnv(kv map[string]string) []string {
	var env []string
	for _, k := range Keys(kv) {
		env = append(env, "VMX_"+strings.ReplaceAll(strings.ToUpper(k), ".", "_")+"="+kv[k])
	}
	return env
}
