package filters

import (
	"strings"
	"testing"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/filters"
	"github.com/vchproject/vch/errdefs"
)

func refs(t *testing.T, s ...string) []reference.Named {
	var out []reference.Named
	for _, r := range s {
		n, err := reference.ParseNormalizedNamed(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestImageFilter(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	dg := "sha256:" + strings.Repeat("ab", 32)
	images := []Image{
		{ID: "bb", Created: day(1), Refs: refs(t, "busybox:latest", "127.0.0.1:5000/busybox:1", "127.0.0.1:5000/busybox@"+dg)},
		{ID: "al", Created: day(2), Labels: map[string]string{"org": "alpine"}, Refs: refs(t, "alpine:3")},
		{ID: "dd", Created: day(3)},
	}
	created := func(ref string) (time.Time, error) {
		switch ref {
		case "alpine:3":
			return day(2), nil
		}
		return time.Time{}, errdefs.NotFound("No such image: " + ref)
	}
	for _, tc := range []struct {
		name string
		args []filters.KeyValuePair
		want string
	}{
		{name: "none", want: "bb[busybox:latest 127.0.0.1:5000/busybox:1|127.0.0.1:5000/busybox@" + dg + "] al[alpine:3|] dd[|]"},
		{name: "dangling", args: []filters.KeyValuePair{filters.Arg("dangling", "true")}, want: "dd[|]"},
		{name: "not dangling", args: []filters.KeyValuePair{filters.Arg("dangling", "false")}, want: "bb[busybox:latest 127.0.0.1:5000/busybox:1|127.0.0.1:5000/busybox@" + dg + "] al[alpine:3|]"},
		{name: "reference", args: []filters.KeyValuePair{filters.Arg("reference", "busybox")}, want: "bb[busybox:latest|]"},
		{name: "reference pattern", args: []filters.KeyValuePair{filters.Arg("reference", "*/busybox:*")}, want: "bb[127.0.0.1:5000/busybox:1|]"},
		{name: "label", args: []filters.KeyValuePair{filters.Arg("label", "org=alpine")}, want: "al[alpine:3|]"},
		{name: "before", args: []filters.KeyValuePair{filters.Arg("before", "alpine:3")}, want: "bb[busybox:latest 127.0.0.1:5000/busybox:1|127.0.0.1:5000/busybox@" + dg + "]"},
		{name: "since", args: []filters.KeyValuePair{filters.Arg("since", "alpine:3")}, want: "dd[|]"},
		{name: "until", args: []filters.KeyValuePair{filters.Arg("until", "2024-01-02T00:00:00Z")}, want: "bb[busybox:latest 127.0.0.1:5000/busybox:1|127.0.0.1:5000/busybox@" + dg + "]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewImageFilter(filters.NewArgs(tc.args...), created, day(10))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, img := range images {
				tags, digests, ok := f.Apply(img)
				if ok {
					got = append(got, img.ID+"["+strings.Join(tags, " ")+"|"+strings.Join(digests, " ")+"]")
				}
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Fatalf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
}

func TestImageFilterErrors(t *testing.T) {
	none := func(ref string) (time.Time, error) { return time.Time{}, errdefs.NotFound("No such image: " + ref) }
	for _, tc := range []struct {
		arg   filters.KeyValuePair
		class func(error) bool
		want  string
	}{
		{filters.Arg("colour", "x"), errdefs.IsInvalidParameter, "invalid filter 'colour'"},
		{filters.Arg("dangling", "maybe"), errdefs.IsInvalidParameter, "invalid filter 'dangling=[maybe]'"},
		{filters.Arg("before", "ghost"), errdefs.IsNotFound, "No such image: ghost"},
		{filters.Arg("reference", "[x"), errdefs.IsInvalidParameter, "syntax error in pattern"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := NewImageFilter(filters.NewArgs(tc.arg), none, time.Now())
			if err == nil || !tc.class(err) || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
