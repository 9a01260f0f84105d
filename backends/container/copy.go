package container

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/container"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// docker cp and docker diff: the port layer reaches the container's
// files whether or not it runs; this layer gives docker's messages.

// pathNotFound is docker's message for a path the container lacks.
func pathNotFound(err error, path, name string) error {
	if errdefs.IsNotFound(err) {
		return errdefs.NotFound(fmt.Sprintf("Could not find the file %s in container %s", path, name))
	}
	return err
}

// ContainerStatPath describes path in the container (HEAD archive).
func (b *Backend) ContainerStatPath(ctx context.Context, name, path string) (*container.PathStat, error) {
	c, _, err := b.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	st, err := b.pl.ArchiveStat(ctx, c.Spec.ID, path)
	if err != nil {
		return nil, pathNotFound(err, path, name)
	}
	return pathStat(st), nil
}

// ContainerArchivePath streams a tar of path (GET archive): open gets the
// stat once the path is known to exist and returns where to write.
func (b *Backend) ContainerArchivePath(ctx context.Context, name, path string, open func(*container.PathStat) (io.Writer, error)) error {
	c, _, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	err = b.pl.ArchiveGet(ctx, c.Spec.ID, path, func(st compute.PathStat) (io.Writer, error) { return open(pathStat(st)) })
	return pathNotFound(err, path, name)
}

// ContainerExtractToDir extracts the tar in content into the directory
// path (PUT archive).
func (b *Backend) ContainerExtractToDir(ctx context.Context, name, path string, copyUIDGID, noOverwriteDirNonDir bool, content io.Reader) error {
	c, _, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	err = b.pl.ArchivePut(ctx, c.Spec.ID, path, content, compute.PutOptions{CopyUIDGID: copyUIDGID, NoOverwriteDirNonDir: noOverwriteDirNonDir})
	return pathNotFound(err, path, name)
}

// ContainerChanges lists the changes of the writable layer (docker diff).
func (b *Backend) ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	c, _, err := b.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	cs, err := b.pl.Changes(ctx, c.Spec.ID)
	if err != nil {
		return nil, err
	}
	out := make([]container.FilesystemChange, 0, len(cs))
	for _, ch := range cs {
		out = append(out, container.FilesystemChange{Path: ch.Path, Kind: container.ChangeType(ch.Kind)})
	}
	return out, nil
}

func pathStat(s compute.PathStat) *container.PathStat {
	return &container.PathStat{Name: s.Name, Size: s.Size, Mode: s.Mode, Mtime: s.Mtime, LinkTarget: s.LinkTarget}
}

// sizes is docker's SizeRw and SizeRootFs of container id: the writable
// layer's files, and those plus the image's.
func (b *Backend) sizes(ctx context.Context, id, image string) (rw, rootfs int64) {
	sz, err := b.pl.Sizes(ctx, id)
	if err != nil {
		b.log.Debug("container size", zap.String("id", id), zap.Error(err))
	}
	rw, rootfs = sz.RW, sz.RW
	if img, err := b.cfg.Images.Resolve(ctx, image); err == nil {
		rootfs += img.Size
	}
	return rw, rootfs
}
