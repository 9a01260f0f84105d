package fake_test

import (
	"testing"

	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/volume/fake"
	"github.com/vchproject/vch/portlayer/volume/volumetest"
)

func TestConformance(t *testing.T) {
	volumetest.Run(t, func(t *testing.T, stores []volume.Store) volumetest.Instance {
		return volumetest.Instance{Provider: fake.New(stores)}
	})
}
