package storagetest

import (
	"context"
	"sync"
	"testing"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// Pulls of one image at once all succeed, agree, and store each blob once.
func testConcurrentPulls(t *testing.T, s storage.Store, reg *fixture.Registry) {
	ctx := context.Background()
	two := twoLayers(t)
	ref := push(t, reg, "two", two)
	const n = 4
	var wg sync.WaitGroup
	imgs := make([]storage.Image, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs[i], errs[i] = s.Pull(ctx, ref, storage.PullOptions{Progress: func(storage.Progress) {}})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("pull %d: %v", i, errs[i])
		}
		if imgs[i].ID != two.ID() {
			t.Fatalf("pull %d gave %s, want %s", i, imgs[i].ID, two.ID())
		}
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list after concurrent pulls: %v %d images", err, len(list))
	}
	checkExt4(t, s, two.ID())
	if bc, ok := s.(BlobCounter); ok {
		if n, err := bc.BlobCount(ctx); err != nil || n != 4 {
			t.Fatalf("%d blobs (%v), want 4: manifest, config, two layers", n, err)
		}
	}
}
