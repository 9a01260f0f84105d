package filters

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/vchproject/vch/errdefs"
)

// Newest first, as the backend sorts them.
var sample = []Container{
	{ID: "d4", Name: "/web", State: "running", Started: true, Labels: map[string]string{"app": "web", "tier": "front"}, ImageID: "sha256:nginx", Ports: []string{"80/tcp"}},
	{ID: "c3", Name: "/db", State: "exited", ExitCode: 3, Started: true, Labels: map[string]string{"app": "db"}, ImageID: "sha256:pg"},
	{ID: "b2", Name: "/job", State: "exited", ExitCode: 0, Started: true, ImageID: "sha256:busybox"},
	{ID: "a1", Name: "/fresh", State: "created", ExitCode: 127, ImageID: "sha256:busybox"},
}

func ids(cs []Container) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.ID)
	}
	return strings.Join(s, ",")
}

func TestContainerSelect(t *testing.T) {
	look := Lookups{
		Image: func(ref string) (string, bool) {
			if ref == "busybox" {
				return "sha256:busybox", true
			}
			return "", false
		},
		Container: func(ref string) (string, error) {
			for _, c := range sample {
				if c.ID == ref || c.Name == "/"+ref {
					return c.ID, nil
				}
			}
			return "", errdefs.NotFound("No such container: " + ref)
		},
	}
	for _, tc := range []struct {
		name  string
		args  []filters.KeyValuePair
		all   bool
		limit int
		want  string
	}{
		{name: "running only", want: "d4"},
		{name: "all", all: true, want: "d4,c3,b2,a1"},
		{name: "limit implies stopped", limit: 2, want: "d4,c3"},
		{name: "id prefix", all: true, args: []filters.KeyValuePair{filters.Arg("id", "c")}, want: "c3"},
		{name: "name substring", all: true, args: []filters.KeyValuePair{filters.Arg("name", "e")}, want: "d4,a1"},
		{name: "name regexp", all: true, args: []filters.KeyValuePair{filters.Arg("name", "^/?d")}, want: "c3"},
		{name: "name exact with slash", all: true, args: []filters.KeyValuePair{filters.Arg("name", "/job")}, want: "b2"},
		{name: "label key", all: true, args: []filters.KeyValuePair{filters.Arg("label", "app")}, want: "d4,c3"},
		{name: "label key=value", all: true, args: []filters.KeyValuePair{filters.Arg("label", "app=db")}, want: "c3"},
		{name: "two labels AND", all: true, args: []filters.KeyValuePair{filters.Arg("label", "app"), filters.Arg("label", "tier=front")}, want: "d4"},
		{name: "status implies all", args: []filters.KeyValuePair{filters.Arg("status", "exited")}, want: "c3,b2"},
		{name: "status OR", args: []filters.KeyValuePair{filters.Arg("status", "created"), filters.Arg("status", "running")}, want: "d4,a1"},
		{name: "exited code", all: true, args: []filters.KeyValuePair{filters.Arg("exited", "3")}, want: "c3"},
		{name: "exited ignores never started", all: true, args: []filters.KeyValuePair{filters.Arg("exited", "127")}, want: ""},
		{name: "ancestor", all: true, args: []filters.KeyValuePair{filters.Arg("ancestor", "busybox")}, want: "b2,a1"},
		{name: "ancestor unknown", all: true, args: []filters.KeyValuePair{filters.Arg("ancestor", "nope")}, want: ""},
		{name: "before", all: true, args: []filters.KeyValuePair{filters.Arg("before", "db")}, want: "b2,a1"},
		{name: "since", all: true, args: []filters.KeyValuePair{filters.Arg("since", "b2")}, want: "d4,c3"},
		{name: "health none", all: true, args: []filters.KeyValuePair{filters.Arg("health", "none")}, want: "d4,c3,b2,a1"},
		{name: "health healthy", all: true, args: []filters.KeyValuePair{filters.Arg("health", "healthy")}, want: ""},
		{name: "expose", all: true, args: []filters.KeyValuePair{filters.Arg("expose", "79-81")}, want: "d4"},
		{name: "volume", all: true, args: []filters.KeyValuePair{filters.Arg("volume", "data")}, want: ""},
		{name: "is-task false", all: true, args: []filters.KeyValuePair{filters.Arg("is-task", "false")}, want: "d4,c3,b2,a1"},
		{name: "is-task true", all: true, args: []filters.KeyValuePair{filters.Arg("is-task", "true")}, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewContainerFilter(filters.NewArgs(tc.args...), look)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(f.Select(sample, tc.all, tc.limit)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContainerFilterErrors(t *testing.T) {
	for _, tc := range []struct {
		args filters.KeyValuePair
		want string
	}{
		{filters.Arg("colour", "red"), "invalid filter 'colour'"},
		{filters.Arg("status", "foo"), "invalid filter 'status=foo': invalid value for state (foo): must be one of created, running, paused, restarting, removing, exited, dead"},
		{filters.Arg("exited", "x"), `invalid filter 'exited=x': strconv.Atoi: parsing "x": invalid syntax`},
		{filters.Arg("health", "ok"), "invalid filter 'health=ok': invalid value for health (ok): must be one of starting, healthy, unhealthy, none"},
		{filters.Arg("publish", "80:80"), "filter for 'publish' should not contain ':': 80:80"},
		{filters.Arg("is-task", "maybe"), "invalid filter 'is-task=[maybe]'"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := NewContainerFilter(filters.NewArgs(tc.args), Lookups{})
			if !errdefs.IsInvalidParameter(err) || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	_, err := NewContainerFilter(filters.NewArgs(filters.Arg("before", "ghost")), Lookups{Container: func(ref string) (string, error) {
		return "", errdefs.NotFound("No such container: " + ref)
	}})
	if !errdefs.IsNotFound(err) {
		t.Fatalf("before unknown: %v", err)
	}
}
