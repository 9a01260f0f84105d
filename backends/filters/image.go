package filters

import (
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/filters"
	timetypes "github.com/docker/docker/api/types/time"
	"github.com/vchproject/vch/errdefs"
)

// Image is what the image filters look at.
type Image struct {
	ID      string
	Created time.Time
	Labels  map[string]string
	Refs    []reference.Named // tags and digests pointing at the image
}

var acceptedImage = map[string]bool{
	"dangling": true, "label": true, "before": true, "since": true,
	"reference": true, "until": true,
}

// ImageFilter is a validated set of image-list filters.
type ImageFilter struct {
	args         filters.Args
	danglingOnly bool
	before       time.Time
	since        time.Time
}

// NewImageFilter validates args. created resolves an image reference (for
// before/since) to its creation time; now anchors relative "until" values.
func NewImageFilter(args filters.Args, created func(ref string) (time.Time, error), now time.Time) (*ImageFilter, error) {
	if err := args.Validate(acceptedImage); err != nil {
		return nil, errdefs.InvalidParameter(err.Error())
	}
	f := &ImageFilter{args: args}
	var err error
	if f.danglingOnly, err = args.GetBoolOrDefault("dangling", false); err != nil {
		return nil, errdefs.InvalidParameter(err.Error())
	}
	for _, v := range args.Get("before") {
		t, err := created(v)
		if err != nil {
			return nil, err
		}
		if f.before.IsZero() || f.before.After(t) {
			f.before = t
		}
	}
	for _, v := range args.Get("until") {
		ts, err := timetypes.GetTimestamp(v, now)
		if err != nil {
			return nil, errdefs.InvalidParameter(err.Error())
		}
		sec, nsec, err := timetypes.ParseTimestamps(ts, 0)
		if err != nil {
			return nil, errdefs.InvalidParameter(err.Error())
		}
		t := time.Unix(sec, nsec)
		if f.before.IsZero() || f.before.After(t) {
			f.before = t
		}
	}
	for _, v := range args.Get("since") {
		t, err := created(v)
		if err != nil {
			return nil, err
		}
		if f.since.Before(t) {
			f.since = t
		}
	}
	for _, p := range args.Get("reference") {
		if err := patternError(p); err != nil {
			return nil, errdefs.InvalidParameter(err.Error())
		}
	}
	return f, nil
}

// patternError reports a malformed reference pattern (path.Match syntax).
func patternError(p string) error {
	n, err := reference.ParseNormalizedNamed("busybox")
	if err != nil {
		return err
	}
	_, err = reference.FamiliarMatch(p, n)
	return err
}

// Apply decides whether img is listed and which of its references are
// shown (a reference filter hides the references it does not match).
func (f *ImageFilter) Apply(img Image) (tags, digests []string, keep bool) {
	if !f.before.IsZero() && !img.Created.Before(f.before) {
		return nil, nil, false
	}
	if !f.since.IsZero() && !img.Created.After(f.since) {
		return nil, nil, false
	}
	if f.args.Contains("label") && !f.args.MatchKVList("label", img.Labels) {
		return nil, nil, false
	}
	tags, digests = []string{}, []string{}
	for _, ref := range img.Refs {
		if f.args.Contains("reference") {
			found := false
			for _, p := range f.args.Get("reference") {
				if ok, _ := reference.FamiliarMatch(p, ref); ok {
					found = true
					break
				}
			}
			if !found {
				continue
			}
		}
		if _, ok := ref.(reference.Canonical); ok {
			digests = append(digests, reference.FamiliarString(ref))
		}
		if _, ok := ref.(reference.NamedTagged); ok {
			tags = append(tags, reference.FamiliarString(ref))
		}
	}
	if len(tags) == 0 && len(digests) == 0 {
		if f.args.Contains("dangling") && !f.danglingOnly {
			return nil, nil, false
		}
		if f.args.Contains("reference") {
			return nil, nil, false
		}
	} else if f.danglingOnly && len(tags) > 0 {
		return nil, nil, false
	}
	return tags, digests, true
}
