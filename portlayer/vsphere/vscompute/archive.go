package vscompute

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
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
	if err := p.sweepMaintenance(ctx, c); err != nil {
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
	done, err := p.bootMaintenance(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	cl, err := p.dialTether(ctx, c)
	if err != nil {
		done()
		return nil, nil, err
	}
	return cl, done, nil
}

// bootMaintenance claims c for a maintenance boot, marks its VM as booted
// for maintenance (KeyMaint, so a vchd that dies before the boot ends
// leaves a VM that Open recognises and powers off) and powers it on. The
// function returned ends the boot: the VM off, the mark and the claim
// gone.
func (p *Provider) bootMaintenance(ctx context.Context, c *vm) (func(), error) {
	id := c.spec.ID
	if err := p.claimMaintenance(id); err != nil {
		return nil, err
	}
	p.hub.setMaintenance(id, true)
	done := func() {
		ctx := context.WithoutCancel(ctx)
		if now, err := p.get(ctx, c.ref); err == nil && now.power != types.VirtualMachinePowerStatePoweredOff {
			if err := p.powerOffIfOn(ctx, now); err != nil {
				p.log.Warn("maintenance boot not powered off", zap.String("id", id), zap.Error(err))
			}
		}
		// Unmarked only once off: a mark on a VM that is off is swept
		// by the next Open.
		if err := p.markMaintenance(ctx, c, false); err != nil {
			p.log.Warn("maintenance mark not removed", zap.String("id", id), zap.Error(err))
		}
		p.hub.dropControl(id)
		p.hub.setMaintenance(id, false)
		p.endMaintenance(id)
	}
	if c.power != types.VirtualMachinePowerStatePoweredOff {
		// The process ended; the VM is not off yet.
		if err := p.powerOffIfOn(ctx, c); err != nil {
			done()
			return nil, fmt.Errorf("container %s: power off: %w", id, err)
		}
	}
	if err := p.markMaintenance(ctx, c, true); err != nil {
		done()
		return nil, fmt.Errorf("container %s: mark the maintenance boot: %w", id, err)
	}
	p.hub.dropControl(id)
	task, err := object.NewVirtualMachine(p.s.Client, c.ref).PowerOn(ctx)
	if err == nil {
		err = p.s.Wait(ctx, "container "+id+": maintenance power on", task)
	} else {
		err = vsession.Classify(err)
	}
	if err != nil {
		done()
		return nil, fmt.Errorf("container %s: maintenance power on: %w", id, err)
	}
	return done, nil
}

// markMaintenance sets (on) or removes KeyMaint in c's VM.
func (p *Provider) markMaintenance(ctx context.Context, c *vm, on bool) error {
	val := ""
	if on {
		val = "1"
	}
	return p.reconfigure(ctx, c, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: KeyMaint, Value: val}}})
}

// endStaleMaintenance ends a maintenance boot a previous vchd left
// behind (it died during the boot: c's VM carries KeyMaint, and no boot
// of this process runs): the VM is powered off and unmarked; its record,
// which the boot did not touch, stays as it was.
func (p *Provider) endStaleMaintenance(ctx context.Context, c *vm) error {
	id := c.spec.ID
	p.log.Info("container VM left on for maintenance by an earlier vchd: powering it off", zap.String("id", id), zap.String("vm", c.name))
	if c.power != types.VirtualMachinePowerStatePoweredOff {
		if err := p.powerOffIfOn(ctx, c); err != nil {
			return fmt.Errorf("container %s: power off a left maintenance boot: %w", id, err)
		}
		c.power = types.VirtualMachinePowerStatePoweredOff
	}
	if err := p.markMaintenance(ctx, c, false); err != nil {
		return fmt.Errorf("container %s: unmark a left maintenance boot: %w", id, err)
	}
	c.maint, c.maintMark = false, false
	return nil
}

// sweepMaintenance ends c's maintenance boot if an earlier vchd left it:
// c carries the mark and no boot of this process runs. The claim held
// meanwhile keeps a boot of this process from starting, and the VM is
// read again under it (a boot that just ended removed its mark).
func (p *Provider) sweepMaintenance(ctx context.Context, c *vm) error {
	if !c.maintMark || p.maintaining(c.spec.ID) {
		return nil
	}
	if err := p.claim(c.spec.ID); err != nil {
		if errors.Is(err, errMaint) {
			return nil // a boot of this process began meanwhile
		}
		return err
	}
	defer p.release(c.spec.ID)
	now, err := p.get(ctx, c.ref)
	if err != nil {
		return err
	}
	if now.maintMark {
		if err := p.endStaleMaintenance(ctx, now); err != nil {
			return err
		}
	}
	*c = *now
	c.maint, c.maintMark = false, false
	return nil
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
// Sizes kept for a container that is not running are forgotten.
func (p *Provider) ArchivePut(ctx context.Context, id, path string, in io.Reader, opts compute.PutOptions) error {
	err := tetherlink.ArchivePut(ctx, p.opener(id), id, path, in, opts)
	if c, ferr := p.find(ctx, id); ferr == nil && c.rec.Sizes != nil {
		p.keepSizes(ctx, c, nil)
	}
	return err
}

// Changes lists the container's file system changes (docker diff).
func (p *Provider) Changes(ctx context.Context, id string) ([]compute.Change, error) {
	return tetherlink.ArchiveChanges(ctx, p.opener(id), id)
}

// ArchiveExport writes the tar of the container's root file system.
func (p *Provider) ArchiveExport(ctx context.Context, id string, w io.Writer) error {
	return tetherlink.ArchiveStream(ctx, p.opener(id), id, proto.ArchiveSpec{Op: proto.ArchiveExport}, w)
}

// ArchiveLayer writes the container's writable layer as an OCI layer tar
// (docker commit): the tether's changes since the image, with whiteouts
// for deletions; a container that is not running is booted for
// maintenance for it.
func (p *Provider) ArchiveLayer(ctx context.Context, id string, freeze bool, w io.Writer) error {
	return tetherlink.ArchiveStream(ctx, p.opener(id), id, proto.ArchiveSpec{Op: proto.ArchiveLayer, Freeze: freeze}, w)
}

// Sizes measures the container's writable layer (docker's SizeRw). A
// running container's tether measures it live. For one that is not
// running the datastore cannot tell (the writable disk's allocation
// counts blocks, not the changed files docker counts), so the VM is
// booted for maintenance, as docker cp does, only when sizes are asked
// for; the result is kept in the record until the layer can change (the
// next start, or docker cp into it).
func (p *Provider) Sizes(ctx context.Context, id string) (compute.Sizes, error) {
	if p.hub == nil {
		return compute.Sizes{}, p.noTether(ctx, id, "sizes")
	}
	c, err := p.find(ctx, id)
	if err != nil {
		return compute.Sizes{}, err
	}
	st := c.status()
	if st.State == compute.StateRunning && st.Paused {
		return compute.Sizes{}, nil
	}
	if st.State != compute.StateRunning && c.rec.Sizes != nil {
		return *c.rec.Sizes, nil
	}
	sz, err := p.querySizes(ctx, id)
	if err != nil || st.State == compute.StateRunning {
		return sz, err
	}
	p.keepSizes(ctx, c, &sz)
	return sz, nil
}

// querySizes asks the tether (through a maintenance boot if the
// container is not running).
func (p *Provider) querySizes(ctx context.Context, id string) (compute.Sizes, error) {
	s, err := p.opener(id)(ctx, proto.ArchiveSpec{Op: proto.ArchiveSize})
	if err != nil {
		return compute.Sizes{}, err
	}
	defer s.Close()
	r, err := s.Next(ctx, id)
	if err != nil {
		return compute.Sizes{}, err
	}
	if r.Size == nil {
		return compute.Sizes{}, fmt.Errorf("container %s: sizes: the tether sent none: %w", id, errdefs.ErrUnavailable)
	}
	return compute.Sizes{RW: r.Size.RW}, nil
}

// keepSizes records sz (nil: forgets them) in the record of c's latest
// run, unless a run began since c was read.
func (p *Provider) keepSizes(ctx context.Context, c *vm, sz *compute.Sizes) {
	unlock := p.lockRec(c.spec.ID)
	defer unlock()
	now, err := p.get(ctx, c.ref)
	if err != nil || !now.rec.StartedAt.Equal(c.rec.StartedAt) || now.status().State == compute.StateRunning {
		return
	}
	if sz == nil && now.rec.Sizes == nil {
		return
	}
	now.rec.Sizes = sz
	if err := p.writeRecord(context.WithoutCancel(ctx), now); err != nil {
		p.log.Warn("container sizes not recorded", zap.String("id", c.spec.ID), zap.Error(err))
	}
}
