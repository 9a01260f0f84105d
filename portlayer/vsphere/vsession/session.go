// Package vsession is the vSphere providers' connection: one logged-in
// govmomi client with the VCH's datacenter, resource pool and folder
// resolved once, and the mapping of vSphere faults to errdefs classes.
// It knows nothing of containers, images or volumes.
package vsession

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
)

// Config says where the VCH lives on vSphere.
type Config struct {
	// URL is the SDK endpoint with credentials:
	// https://user:password@host/sdk.
	URL string `json:"url"`
	// Thumbprint is the SHA-1 thumbprint of the endpoint's certificate
	// (AA:BB:...); Insecure skips verification (simulator tests).
	Thumbprint string `json:"thumbprint,omitempty"`
	Insecure   bool   `json:"insecure,omitempty"`
	Datacenter string `json:"datacenter"` // inventory path or name, e.g. /DC0
	// Pool is the VCH's resource pool (inventory path); container VMs are
	// made in it.
	Pool string `json:"pool"`
	// Folder holds the container VMs (inventory path); empty: the
	// datacenter's VM folder.
	Folder string `json:"folder,omitempty"`
	// TaskTimeout bounds every vSphere task; a task still running then is
	// canceled and reported as ErrUnavailable. 0: DefaultTaskTimeout.
	TaskTimeout time.Duration `json:"taskTimeout,omitempty"`
}

// DefaultTaskTimeout bounds a task when Config.TaskTimeout is 0.
const DefaultTaskTimeout = 5 * time.Minute

// Session is a logged-in connection with the VCH's inventory resolved.
type Session struct {
	Client     *vim25.Client
	Finder     *find.Finder
	Datacenter *object.Datacenter
	Pool       *object.ResourcePool
	Folder     *object.Folder
	Log        *zap.Logger

	taskTimeout time.Duration
	manager     *session.Manager
}

// Open logs in and resolves the datacenter, pool and folder.
func Open(ctx context.Context, cfg Config, log *zap.Logger) (*Session, error) {
	if log == nil {
		log = zap.NewNop()
	}
	u, err := soap.ParseURL(cfg.URL)
	if err != nil || u == nil {
		return nil, fmt.Errorf("vsphere: bad URL %q: %v", redact(cfg.URL), err)
	}
	sc := soap.NewClient(u, cfg.Insecure)
	if cfg.Thumbprint != "" {
		sc.SetThumbprint(u.Host, cfg.Thumbprint)
	}
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("vsphere: connect %s: %w", u.Host, Classify(err))
	}
	m := session.NewManager(c)
	if err := m.Login(ctx, u.User); err != nil {
		return nil, fmt.Errorf("vsphere: log in to %s: %w", u.Host, Classify(err))
	}
	s := &Session{Client: c, Log: log, manager: m, taskTimeout: cfg.TaskTimeout}
	if s.taskTimeout == 0 {
		s.taskTimeout = DefaultTaskTimeout
	}
	s.Finder = find.NewFinder(c, true)
	if s.Datacenter, err = s.Finder.Datacenter(ctx, cfg.Datacenter); err != nil {
		return nil, fmt.Errorf("vsphere: datacenter %q: %w", cfg.Datacenter, Classify(err))
	}
	s.Finder.SetDatacenter(s.Datacenter)
	if s.Pool, err = s.Finder.ResourcePool(ctx, cfg.Pool); err != nil {
		return nil, fmt.Errorf("vsphere: resource pool %q: %w", cfg.Pool, Classify(err))
	}
	if cfg.Folder == "" {
		folders, err := s.Datacenter.Folders(ctx)
		if err != nil {
			return nil, fmt.Errorf("vsphere: folders of %s: %w", cfg.Datacenter, Classify(err))
		}
		s.Folder = folders.VmFolder
	} else if s.Folder, err = s.Finder.Folder(ctx, cfg.Folder); err != nil {
		return nil, fmt.Errorf("vsphere: folder %q: %w", cfg.Folder, Classify(err))
	}
	return s, nil
}

// Close logs out.
func (s *Session) Close(ctx context.Context) error {
	return s.manager.Logout(ctx)
}

// Wait waits for task, bounded by the session's task timeout. A task that
// does not finish in time is canceled (best effort) and reported as
// ErrUnavailable; a failed task's fault is classified.
func (s *Session) Wait(ctx context.Context, what string, task *object.Task) error {
	tctx, cancel := context.WithTimeout(ctx, s.taskTimeout)
	defer cancel()
	err := task.Wait(tctx)
	if err == nil {
		return nil
	}
	if tctx.Err() != nil && ctx.Err() == nil {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if cerr := task.Cancel(cctx); cerr != nil {
			s.Log.Debug("cancel of a late task failed", zap.String("task", task.Reference().Value), zap.Error(cerr))
		}
		return fmt.Errorf("%s: task %s did not finish within %s: %w", what, task.Reference().Value, s.taskTimeout, ErrTaskTimeout)
	}
	return fmt.Errorf("%s: %w", what, Classify(err))
}

// ErrTaskTimeout: a vSphere task outlived the session's task timeout.
var ErrTaskTimeout = errdefs.Unavailable("vSphere task timed out")

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
