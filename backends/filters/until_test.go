package filters

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
)

func TestParseUntil(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"1h":                   now.Add(-time.Hour),
		"1714564800":           time.Unix(1714564800, 0),
		"1714564800.5":         time.Unix(1714564800, 500000000),
		"2024-05-01T10:00:00Z": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		"2024-04-30":           time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC),
	} {
		got, err := ParseUntil(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseUntil(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseUntil("soon", now); err == nil {
		t.Error("ParseUntil(soon) succeeded")
	}
}

func TestPruneFilter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	old, recent := now.Add(-2*time.Hour), now.Add(-time.Minute)
	f, err := NewPruneFilter(filters.NewArgs(filters.Arg("until", "1h"), filters.Arg("label", "keep=no"), filters.Arg("label!", "pinned")), now)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		created time.Time
		labels  map[string]string
		want    bool
	}{
		{old, map[string]string{"keep": "no"}, true},
		{recent, map[string]string{"keep": "no"}, false},
		{old, map[string]string{"keep": "yes"}, false},
		{old, map[string]string{"keep": "no", "pinned": ""}, false},
		{old, nil, false},
	}
	for i, c := range cases {
		if got := f.Match(c.created, c.labels); got != c.want {
			t.Errorf("case %d: %v", i, got)
		}
	}
	if _, err := NewPruneFilter(filters.NewArgs(filters.Arg("dangling", "true")), now); err == nil {
		t.Error("unknown key accepted")
	}
	if _, err := NewPruneFilter(filters.NewArgs(filters.Arg("dangling", "true")), now, "dangling"); err != nil {
		t.Error(err)
	}
}
