package local

import (
	"testing"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/storagetest"
)

func newStore(t *testing.T) *Store {
	s, err := New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
}
