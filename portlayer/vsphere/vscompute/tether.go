package vscompute

import (
	"context"
	"fmt"
	"io"
	"syscall"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// notYet answers what needs the tether's control channel on vSphere (a
// network serial port to the VCH's serial concentrator), which is not
// built: NotFound for an unknown id, Conflict for a VM that is not
// running when running is required, else ErrNotImplemented.
func (p *Provider) notYet(ctx context.Context, id, what string, needRunning bool) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	if needRunning && c.status().State != compute.StateRunning {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not running", id))
	}
	return errdefs.NotImplemented(fmt.Sprintf("%s on vSphere needs the tether's serial control channel, which this vch does not build yet", what))
}

// Signal needs the tether, except SIGKILL, which is a power off.
func (p *Provider) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		return p.Kill(ctx, id)
	}
	return p.notYet(ctx, id, "signal", true)
}

// Attach needs the tether.
func (p *Provider) Attach(ctx context.Context, id string, _ compute.AttachOptions) error {
	return p.notYet(ctx, id, "attach", false)
}

// Logs needs the tether.
func (p *Provider) Logs(ctx context.Context, id string, _ compute.LogOptions) (<-chan compute.LogEntry, error) {
	return nil, p.notYet(ctx, id, "logs", false)
}

// Resize needs the tether.
func (p *Provider) Resize(ctx context.Context, id string, _, _ uint) error {
	return p.notYet(ctx, id, "resize", true)
}

// Exec needs the tether.
func (p *Provider) Exec(ctx context.Context, id string, _ compute.ExecConfig) (compute.ExecProcess, error) {
	return nil, p.notYet(ctx, id, "exec", true)
}

// Top needs the tether.
func (p *Provider) Top(ctx context.Context, id string, _ []string) (compute.TopResult, error) {
	return compute.TopResult{}, p.notYet(ctx, id, "top", true)
}

// Stats needs the tether.
func (p *Provider) Stats(ctx context.Context, id string) (compute.Stats, error) {
	return compute.Stats{}, p.notYet(ctx, id, "stats", false)
}

// ArchiveStat needs the tether.
func (p *Provider) ArchiveStat(ctx context.Context, id, _ string) (compute.PathStat, error) {
	return compute.PathStat{}, p.notYet(ctx, id, "copying files", false)
}

// ArchiveGet needs the tether.
func (p *Provider) ArchiveGet(ctx context.Context, id, _ string, _ func(compute.PathStat) (io.Writer, error)) error {
	return p.notYet(ctx, id, "copying files", false)
}

// ArchivePut needs the tether.
func (p *Provider) ArchivePut(ctx context.Context, id, _ string, _ io.Reader, _ compute.PutOptions) error {
	return p.notYet(ctx, id, "copying files", false)
}

// Changes needs the tether.
func (p *Provider) Changes(ctx context.Context, id string) ([]compute.Change, error) {
	return nil, p.notYet(ctx, id, "diff", false)
}

// Sizes needs the tether.
func (p *Provider) Sizes(ctx context.Context, id string) (compute.Sizes, error) {
	return compute.Sizes{}, p.notYet(ctx, id, "sizes", false)
}

var _ compute.Provider = (*Provider)(nil)
