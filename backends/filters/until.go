package filters

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/errdefs"
)

// ParseUntil reads a prune filter's until value as docker does: a Go
// duration before now ("24h", "10m"), a Unix timestamp
// ("seconds[.nanoseconds]"), or an RFC 3339 date or date-time.
func ParseUntil(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, errdefs.InvalidParameter(fmt.Sprintf("failed to parse value %q as a timestamp or duration", v))
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, errdefs.InvalidParameter(fmt.Sprintf("failed to parse value %q as a timestamp or duration", v))
		}
	}
	return time.Unix(s, ns), nil
}

// PruneFilter is the until and label filters that prune takes.
type PruneFilter struct {
	until  time.Time // zero: none
	labels []string  // label=k or k=v, all must match
	not    []string  // label!=k or k=v, none may match
}

// NewPruneFilter validates args against docker's prune keys: until, label
// and label! (plus extra keys the caller handles, e.g. dangling).
func NewPruneFilter(args filters.Args, now time.Time, extra ...string) (*PruneFilter, error) {
	keys := map[string]bool{"until": true, "label": true, "label!": true}
	for _, k := range extra {
		keys[k] = true
	}
	if err := args.Validate(keys); err != nil {
		return nil, errdefs.InvalidParameter(err.Error())
	}
	f := &PruneFilter{labels: args.Get("label"), not: args.Get("label!")}
	if u := args.Get("until"); len(u) > 0 {
		if len(u) > 1 {
			return nil, errdefs.InvalidParameter("more than one until filter specified")
		}
		t, err := ParseUntil(u[0], now)
		if err != nil {
			return nil, err
		}
		f.until = t
	}
	return f, nil
}

// Match reports whether an object created at created with labels is to
// be pruned.
func (f *PruneFilter) Match(created time.Time, labels map[string]string) bool {
	if !f.until.IsZero() && !created.Before(f.until) {
		return false
	}
	has := func(kv string) bool {
		k, v, withValue := strings.Cut(kv, "=")
		got, ok := labels[k]
		return ok && (!withValue || got == v)
	}
	for _, l := range f.labels {
		if !has(l) {
			return false
		}
	}
	for _, l := range f.not {
		if has(l) {
			return false
		}
	}
	return true
}
