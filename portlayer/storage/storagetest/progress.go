package storagetest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// Each layer's progress follows docker's order: "Pulling fs layer" (and
// maybe "Waiting") before any download, "Download complete" before
// "Extracting", "Pull complete" last; counters never pass their totals.
func testProgressPerLayer(t *testing.T, s storage.Store, reg *fixture.Registry) {
	img, err := fixture.Big(4, 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string][]string{}
	_, err = s.Pull(context.Background(), push(t, reg, "layers", img), storage.PullOptions{Progress: func(p storage.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Total > 0 && p.Current > p.Total {
			t.Errorf("%s %s: %d of %d", p.ID, p.Status, p.Current, p.Total)
		}
		if l := seen[p.ID]; len(l) == 0 || l[len(l)-1] != p.Status {
			seen[p.ID] = append(l, p.Status)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	rank := map[string]int{
		"Pulling fs layer": 0, "Waiting": 1, "Downloading": 2, "Verifying Checksum": 3,
		"Download complete": 4, "Extracting": 5, "Pull complete": 6,
	}
	for _, l := range img.Layers {
		id := strings.TrimPrefix(l.Digest, "sha256:")[:12]
		got := seen[id]
		if len(got) < 3 || got[0] != "Pulling fs layer" || got[len(got)-1] != "Pull complete" {
			t.Fatalf("layer %s: progress %q", id, got)
		}
		for i := 1; i < len(got); i++ {
			r, ok := rank[got[i]]
			if !ok || r < rank[got[i-1]] {
				t.Fatalf("layer %s: %q out of docker's order in %q", id, got[i], got)
			}
		}
	}
	if len(seen) != len(img.Layers) {
		t.Fatalf("progress for %d ids, image has %d layers: %v", len(seen), len(img.Layers), seen)
	}
}
