package vscompute

import (
	"context"
	"fmt"
	"io"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

// Archive sessions (docker cp, diff, export) go to the tether, with the
// same client code as under QEMU (tetherlink): a running container's
// tether serves them; for one that is not running the VM is powered on
// for the one call as a maintenance boot (the concentrator's boot line
// tells the tether not to run the process) and powered off before it
// returns, its record untouched. In a docker-backed simulator VM the
// root is the backing container's file system, and diff compares it with
// the baseline the tether recorded at the VM's first boot.

// archiveClient returns a client whose tether serves archive sessions
// for c, and the function that ends its use.
func (p *Provider) archiveClient(ctx context.Context, id string) (*ssh.Client, func(), error) {
	if p.hub == nil {
		return nil, nil, p.noTether(ctx, id, "copying files")
	}
	c, err := p.find(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	st := c.status()
	switch {
	case st.State == compute.StateRunning && st.Paused:
		return nil, nil, errdefs.Conflict(fmt.Sprintf("Container %s is paused, unpause the container first", id))
	case st.State == compute.StateRunning:
		cl, err := p.dialTether(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		return cl, func() {}, nil
	}
	return p.maintenance(ctx, c)
}

// maintenance powers c's VM on for archive sessions only.
func (p *Provider) maintenance(ctx context.Context, c *vm) (*ssh.Client, func(), error) {
	id := c.spec.ID
	if err := p.claimMaintenance(id); err != nil {
		return nil, nil, err
	}
	p.hub.setMaintenance(id, true)
	done := func() {
		ctx := context.WithoutCancel(ctx)
		if now, err := p.get(ctx, c.ref); err == nil && now.power != types.VirtualMachinePowerStatePoweredOff {
			if err := p.powerOffIfOn(ctx, now); err != nil {
				p.log.Warn("maintenance boot not powered off: " + err.Error())
			}
		}
		p.hub.dropControl(id)
		p.hub.setMaintenance(id, false)
		p.endMaintenance(id)
	}
	if c.power != types.VirtualMachinePowerStatePoweredOff {
		// The process ended; the VM is not off yet.
		if err := p.powerOffIfOn(ctx, c); err != nil {
			done()
			return nil, nil, fmt.Errorf("container %s: power off: %w", id, err)
		}
	}
	p.hub.dropControl(id)
	task, err := object.NewVirtualMachine(p.s.Client, c.ref).PowerOn(ctx)
	if err == nil {
		err = p.s.Wait(ctx, "container "+id+": maintenance power on", task)
	}
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("container %s: maintenance power on: %w", id, err)
	}
	cl, err := p.dialTether(ctx, c)
	if err != nil {
		done()
		return nil, nil, err
	}
	return cl, done, nil
}

// opener opens archive sessions on id; a tether whose VM is on its way
// down is waited for (tetherlink.OpenArchiveRetrying).
func (p *Provider) opener(id string) tetherlink.ArchiveOpener {
	return func(ctx context.Context, spec proto.ArchiveSpec) (*tetherlink.ArchiveSession, error) {
		return tetherlink.OpenArchiveRetrying(ctx, id, spec,
			func(ctx context.Context) (*ssh.Client, func(), error) { return p.archiveClient(ctx, id) },
			func(ctx context.Context) error {
				// The process ended and the VM powers off: wait for the
				// exit's record; the next try boots it for maintenance.
				_, err := p.Wait(ctx, id, compute.WaitNotRunning)
				return err
			})
	}
}

// ArchiveStat describes path in the container.
func (p *Provider) ArchiveStat(ctx context.Context, id, path string) (compute.PathStat, error) {
	return tetherlink.ArchiveStat(ctx, p.opener(id), id, path)
}

// ArchiveGet streams the tar of path to the writer open returns.
func (p *Provider) ArchiveGet(ctx context.Context, id, path string, open func(compute.PathStat) (io.Writer, error)) error {
	return tetherlink.ArchiveGet(ctx, p.opener(id), id, path, open)
}

// ArchivePut extracts the tar from in into the directory path.
func (p *Provider) ArchivePut(ctx context.Context, id, path string, in io.Reader, opts compute.PutOptions) error {
	return tetherlink.ArchivePut(ctx, p.opener(id), id, path, in, opts)
}

// Changes lists the container's file system changes (docker diff).
func (p *Provider) Changes(ctx context.Context, id string) ([]compute.Change, error) {
	return tetherlink.ArchiveChanges(ctx, p.opener(id), id)
}

// ArchiveExport writes the tar of the container's root file system.
func (p *Provider) ArchiveExport(ctx context.Context, id string, w io.Writer) error {
	return tetherlink.ArchiveStream(ctx, p.opener(id), id, proto.ArchiveSpec{Op: proto.ArchiveExport}, w)
}

// ArchiveLayer (docker commit) needs the writable layer as a layer of
// its own, which a vSphere VM's tether does not keep apart yet.
func (p *Provider) ArchiveLayer(ctx context.Context, id string, _ bool, _ io.Writer) error {
	if _, err := p.find(ctx, id); err != nil {
		return err
	}
	return errdefs.NotImplemented("docker commit on vSphere is not built yet")
}

// Sizes measures a running container's changes; a container that is not
// running reports zeros (measuring it would boot its VM).
func (p *Provider) Sizes(ctx context.Context, id string) (compute.Sizes, error) {
	if p.hub == nil {
		return compute.Sizes{}, p.noTether(ctx, id, "sizes")
	}
	c, err := p.find(ctx, id)
	if err != nil {
		return compute.Sizes{}, err
	}
	if st := c.status(); st.State != compute.StateRunning || st.Paused {
		return compute.Sizes{}, nil
	}
	cl, err := p.dialTether(ctx, c)
	if err != nil {
		return compute.Sizes{}, nil
	}
	return tetherlink.QuerySizes(ctx, cl, id)
}
