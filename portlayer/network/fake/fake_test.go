package fake_test

import (
	"testing"

	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/network/fake"
	"github.com/vchproject/vch/portlayer/network/networktest"
)

func TestConformance(t *testing.T) {
	networktest.Run(t, func(t *testing.T) networktest.Instance {
		p := fake.New()
		return networktest.Instance{Provider: p, Reopen: func(t *testing.T) network.Provider {
			np, err := p.Reopen()
			if err != nil {
				t.Fatal(err)
			}
			return np
		}}
	})
}
