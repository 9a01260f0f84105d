package fake

import (
	"fmt"

	"github.com/vchproject/vch/portlayer/compute"
)

// volumeHeld refuses to start v while another running VM mounts one of
// its volumes, as a provider with block-device volumes must. Call with
// p.mu held.
func (p *Provider) volumeHeld(v *vm) error {
	want := map[string]bool{}
	for _, m := range v.c.Spec.Mounts {
		want[m.Volume] = true
	}
	for _, o := range p.vms {
		if o == v || o.run == nil {
			continue
		}
		for _, m := range o.c.Spec.Mounts {
			if want[m.Volume] {
				return fmt.Errorf("volume %s is in use by running container %s: %w", m.Volume, o.c.Spec.ID, compute.ErrVolumeInUse)
			}
		}
	}
	return nil
}
