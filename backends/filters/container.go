package filters

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/vchproject/vch/errdefs"
)

// Container is what the ps filters look at.
type Container struct {
	ID        string
	Name      string // with the leading "/"
	State     string // docker's state: created, running, exited, ...
	ExitCode  int
	Started   bool // has run at least once (docker: StartedAt is set)
	Labels    map[string]string
	ImageID   string
	Health    string // "none" without a healthcheck
	Isolation string
	Networks  []string // network names
	Volumes   []string // volume names, sources and destinations
	Ports     []string // "80/tcp" exposed, as ExposedPorts keys
	Published []string // "8080/tcp" published host ports
}

var acceptedContainer = map[string]bool{
	"ancestor": true, "before": true, "exited": true, "id": true,
	"isolation": true, "label": true, "name": true, "status": true,
	"health": true, "since": true, "volume": true, "network": true,
	"is-task": true, "publish": true, "expose": true,
}

var validStates = []string{"created", "running", "paused", "restarting", "removing", "exited", "dead"}

var validHealth = []string{"starting", "healthy", "unhealthy", "none"}

// Lookups resolve the names that some filters mention.
type Lookups struct {
	// Image resolves an image reference to its ID (ok false: unknown).
	Image func(ref string) (id string, ok bool)
	// Container resolves a container name or ID to its ID.
	Container func(ref string) (id string, err error)
}

// ContainerFilter is a validated set of ps filters.
type ContainerFilter struct {
	args      filters.Args
	exited    []int
	ancestor  bool
	images    map[string]bool
	before    string
	since     string
	hasStatus bool
	isTaskSet bool
	isTask    bool
	published map[string]bool
	exposed   map[string]bool
}

func invalid(format string, a ...any) error {
	return errdefs.InvalidParameter(fmt.Sprintf(format, a...))
}

// NewContainerFilter validates args as docker does.
func NewContainerFilter(args filters.Args, look Lookups) (*ContainerFilter, error) {
	if err := args.Validate(acceptedContainer); err != nil {
		return nil, errdefs.InvalidParameter(err.Error())
	}
	f := &ContainerFilter{args: args, images: map[string]bool{}, published: map[string]bool{}, exposed: map[string]bool{}}
	for _, v := range args.Get("exited") {
		code, err := strconv.Atoi(v)
		if err != nil {
			return nil, invalid("invalid filter 'exited=%s': %v", v, err)
		}
		f.exited = append(f.exited, code)
	}
	for _, v := range args.Get("status") {
		if !contains(validStates, v) {
			return nil, invalid("invalid filter 'status=%s': invalid value for state (%s): must be one of %s", v, v, strings.Join(validStates, ", "))
		}
		f.hasStatus = true
	}
	for _, v := range args.Get("health") {
		if !contains(validHealth, v) {
			return nil, invalid("invalid filter 'health=%s': invalid value for health (%s): must be one of %s", v, v, strings.Join(validHealth, ", "))
		}
	}
	if args.Contains("is-task") {
		b, err := args.GetBoolOrDefault("is-task", false)
		if err != nil {
			return nil, errdefs.InvalidParameter(err.Error())
		}
		f.isTaskSet, f.isTask = true, b
	}
	for _, key := range []string{"before", "since"} {
		for _, v := range args.Get(key) {
			if look.Container == nil {
				return nil, invalid("invalid filter '%s'", key)
			}
			id, err := look.Container(v)
			if err != nil {
				return nil, err
			}
			if key == "before" {
				f.before = id
			} else {
				f.since = id
			}
		}
	}
	if args.Contains("ancestor") {
		f.ancestor = true
		for _, v := range args.Get("ancestor") {
			if look.Image == nil {
				continue
			}
			if id, ok := look.Image(v); ok {
				f.images[id] = true
			}
		}
	}
	for key, set := range map[string]map[string]bool{"publish": f.published, "expose": f.exposed} {
		for _, v := range args.Get(key) {
			ports, err := portRange(key, v)
			if err != nil {
				return nil, err
			}
			for _, p := range ports {
				set[p] = true
			}
		}
	}
	return f, nil
}

// portRange expands "80", "80/udp" or "8000-8002/tcp" into "port/proto" keys.
func portRange(key, v string) ([]string, error) {
	if strings.Contains(v, ":") {
		return nil, invalid("filter for '%s' should not contain ':': %s", key, v)
	}
	port, proto, ok := strings.Cut(v, "/")
	if !ok || proto == "" {
		proto = "tcp"
	}
	lo, hi, isRange := strings.Cut(port, "-")
	if !isRange {
		hi = lo
	}
	start, err1 := strconv.ParseUint(lo, 10, 16)
	end, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || end < start {
		return nil, invalid("error while looking up for %s %s: invalid port range", key, v)
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ForcesAll reports whether the filters make ps list stopped containers
// too (docker: any status filter implies --all).
func (f *ContainerFilter) ForcesAll() bool { return f.hasStatus }

// Select applies the filters, --all and --last to containers sorted newest
// first, in docker's order: before/since bound the walk, stopped containers
// are left out unless all or limit, limit counts what is kept.
func (f *ContainerFilter) Select(cs []Container, all bool, limit int) []Container {
	all = all || f.hasStatus
	before := f.before
	out := []Container{}
	for _, c := range cs {
		if before != "" {
			if c.ID == before {
				before = ""
			}
			continue
		}
		if f.since != "" && c.ID == f.since {
			break
		}
		if limit > 0 && len(out) == limit {
			break
		}
		if c.State != container.StateRunning && c.State != container.StatePaused && !all && limit <= 0 {
			continue
		}
		if f.Match(c) {
			out = append(out, c)
		}
	}
	return out
}

// Match reports whether one container passes every filter (the ordering
// filters before/since and --all are Select's business).
func (f *ContainerFilter) Match(c Container) bool {
	a := f.args
	if !a.Match("name", c.Name) && !a.Match("name", strings.TrimPrefix(c.Name, "/")) {
		return false
	}
	if !a.Match("id", c.ID) {
		return false
	}
	if f.isTaskSet && f.isTask {
		return false // vch runs no swarm tasks
	}
	if !a.MatchKVList("label", c.Labels) {
		return false
	}
	if a.Contains("isolation") {
		iso := c.Isolation
		if iso == "" {
			iso = "default"
		}
		if !a.ExactMatch("isolation", iso) {
			return false
		}
	}
	if len(f.exited) > 0 {
		ok := false
		for _, code := range f.exited {
			if code == c.ExitCode && c.State != container.StateRunning && c.Started {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if !a.Match("status", c.State) {
		return false
	}
	health := c.Health
	if health == "" {
		health = "none"
	}
	if !a.ExactMatch("health", health) {
		return false
	}
	if a.Contains("volume") && !anyIn(a.Get("volume"), c.Volumes) {
		return false
	}
	if a.Contains("network") && !anyIn(a.Get("network"), c.Networks) {
		return false
	}
	if f.ancestor && !f.images[c.ImageID] {
		return false
	}
	if len(f.published) > 0 || len(f.exposed) > 0 {
		ok := false
		for _, p := range c.Published {
			ok = ok || f.published[p]
		}
		for _, p := range c.Ports {
			ok = ok || f.exposed[p]
		}
		if !ok {
			return false
		}
	}
	return true
}

func anyIn(want, have []string) bool {
	for _, w := range want {
		if contains(have, w) {
			return true
		}
	}
	return false
}
