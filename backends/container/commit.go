package container

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/vchproject/vch/backends/image"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// ImageCommitter stores the image docker commit makes (backends/image
// implements it).
type ImageCommitter interface {
	// CheckCommitRef checks the new image's repository and tag.
	CheckCommitRef(repo, tag string) error
	CommitImage(ctx context.Context, req image.CommitRequest) (string, error)
}

// layerReader is what a compute provider offers to read a container's
// files as a whole: its writable layer as an OCI layer tar (commit) and
// its root file system (export).
type layerReader interface {
	// ArchiveLayer stops the container's processes while it reads if
	// freeze (docker commit --pause).
	ArchiveLayer(ctx context.Context, id string, freeze bool, w io.Writer) error
	ArchiveExport(ctx context.Context, id string, w io.Writer) error
}

// ContainerCommit makes an image of the container's image plus its
// writable layer (docker commit). A running container is paused while its
// layer is read if opts.Pause.
func (b *Backend) ContainerCommit(ctx context.Context, name string, opts containerrouter.CommitOptions) (string, error) {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return "", err
	}
	lr, ok := b.pl.(layerReader)
	if !ok || b.cfg.Commit == nil {
		return "", errdefs.NotImplemented("commit is not supported by this VCH's compute provider")
	}
	cfg := &container.Config{}
	if opts.Config != nil {
		cp := *opts.Config
		cfg = &cp
	}
	if err := applyChanges(cfg, opts.Changes); err != nil {
		return "", err
	}
	if err := b.cfg.Commit.CheckCommitRef(opts.Repo, opts.Tag); err != nil {
		return "", err
	}
	cc := m.Config
	if cc == nil {
		cc = &container.Config{}
	}
	mergeCommitConfig(cfg, cc)

	// pause: the tether stops the container's processes while it reads
	// the layer (the vCPUs keep running: a VM whose process just ended
	// must be able to power off, and the read needs them anyway).
	freeze := opts.Pause && c.Status.State == compute.StateRunning
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := lr.ArchiveLayer(ctx, c.Spec.ID, freeze, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	createdBy := strings.Join(append(append([]string{}, cc.Entrypoint...), cc.Cmd...), " ")
	id, err := b.cfg.Commit.CommitImage(ctx, image.CommitRequest{
		Parent:          c.Spec.Image,
		Layer:           pr,
		Config:          cfg,
		ContainerID:     c.Spec.ID,
		ContainerConfig: cc,
		CreatedBy:       createdBy,
		Author:          opts.Author,
		Comment:         opts.Comment,
		Repo:            opts.Repo,
		Tag:             opts.Tag,
		Created:         b.now(),
	})
	pr.CloseWithError(errors.New("commit ended"))
	if lerr := <-done; err == nil && lerr != nil {
		err = lerr
	}
	if err != nil {
		return "", err
	}
	b.event(c.Spec.ID, m, events.ActionCommit, map[string]string{"comment": opts.Comment, "imageID": id})
	return id, nil
}

// ContainerExport streams the tar of the container's root file system
// (docker export).
func (b *Backend) ContainerExport(ctx context.Context, name string, open func() (io.Writer, error)) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	lr, ok := b.pl.(layerReader)
	if !ok {
		return errdefs.NotImplemented("export is not supported by this VCH's compute provider")
	}
	w, err := open()
	if err != nil {
		return err
	}
	if err := lr.ArchiveExport(ctx, c.Spec.ID, w); err != nil {
		return err
	}
	b.event(c.Spec.ID, m, events.ActionExport, nil)
	return nil
}
