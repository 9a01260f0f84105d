package events

import (
	"strings"

	eventtypes "github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/errdefs"
)

// Filter selects events by docker's /events filters: type, event, container,
// image, label, volume, network (and scope "local"). Values of one key are
// alternatives; different keys must all match.
type Filter struct{ args filters.Args }

var filterKeys = map[string]bool{
	"type": true, "event": true, "container": true, "image": true, "label": true,
	"volume": true, "network": true, "scope": true, "daemon": true,
}

// NewFilter validates args (unknown keys are invalid parameters, as in docker).
func NewFilter(args filters.Args) (Filter, error) {
	if err := args.Validate(filterKeys); err != nil {
		return Filter{}, errdefs.InvalidParameter(err.Error())
	}
	return Filter{args: args}, nil
}

// Include reports whether m passes the filter. The zero Filter includes
// everything.
func (f Filter) Include(m eventtypes.Message) bool {
	if f.args.Len() == 0 {
		return true
	}
	return f.matchEvent(m) &&
		f.args.ExactMatch("type", string(m.Type)) &&
		f.args.ExactMatch("scope", "local") &&
		f.matchName(m, eventtypes.ContainerEventType) &&
		f.matchName(m, eventtypes.VolumeEventType) &&
		f.matchName(m, eventtypes.NetworkEventType) &&
		f.matchImage(m) &&
		f.matchLabels(m)
}

// matchEvent: exec_create, exec_start and health_status carry details
// after a colon ("health_status: healthy"), so those names match as
// prefixes, as in docker.
func (f Filter) matchEvent(m eventtypes.Message) bool {
	for _, prefixed := range []string{"exec_create", "exec_start", "health_status"} {
		if hasValue(f.args, "event", prefixed) {
			return f.args.FuzzyMatch("event", string(m.Action))
		}
	}
	return f.args.ExactMatch("event", string(m.Action))
}

func hasValue(args filters.Args, key, value string) bool {
	for _, v := range args.Get(key) {
		if v == value {
			return true
		}
	}
	return false
}

// matchName: a container, volume or network filter names an object by ID
// (or its prefix) or by name, and applies to events of that type only.
func (f Filter) matchName(m eventtypes.Message, typ eventtypes.Type) bool {
	key := string(typ)
	if !f.args.Contains(key) {
		return true
	}
	if m.Type != typ {
		// docker: the filter restricts other types only through "type";
		// an event of another type has no such object and fails it.
		return false
	}
	return f.args.FuzzyMatch(key, m.Actor.ID) || f.args.FuzzyMatch(key, m.Actor.Attributes["name"])
}

// matchImage: image events name the image in "name", container events in
// "image"; tags may be left off.
func (f Filter) matchImage(m eventtypes.Message) bool {
	if !f.args.Contains("image") {
		return true
	}
	attr := "image"
	if m.Type == eventtypes.ImageEventType {
		attr = "name"
	}
	name := m.Actor.Attributes[attr]
	for _, v := range []string{m.Actor.ID, name, stripTag(m.Actor.ID), stripTag(name)} {
		if v != "" && hasValue(f.args, "image", v) {
			return true
		}
	}
	return false
}

// stripTag drops a ":tag" (not a registry port) from an image reference.
func stripTag(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") && !strings.HasPrefix(ref, "sha256:") {
		return ref[:i]
	}
	return ref
}

func (f Filter) matchLabels(m eventtypes.Message) bool {
	if !f.args.Contains("label") {
		return true
	}
	return f.args.MatchKVList("label", m.Actor.Attributes)
}
