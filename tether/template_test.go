package tether

import (
	"testing"
	"time"
)

func TestParseGo(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		ns   int64
	}{
		{"go 1764500000000000000", true, 1764500000000000000},
		{"  go 5  ", true, 5},
		{"go", false, 0},
		{"go x", false, 0},
		{"go -3", false, 0},
		{"vch-template-ready", false, 0},
		{"go 1 2", false, 0},
	} {
		g, ok := parseGo(tc.line)
		if ok != tc.ok || g.hostUnixNano != tc.ns {
			t.Errorf("%q: got %+v %v, want %d %v", tc.line, g, ok, tc.ns, tc.ok)
		}
	}
	g := goSignal{hostUnixNano: 1000, atBoot: 3 * time.Second}
	if got := g.clock(3*time.Second + 250); got != 1250 {
		t.Fatalf("clock %d, want 1250", got)
	}
}
