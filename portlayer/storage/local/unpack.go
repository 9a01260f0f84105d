package local

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/ext4"
)

// RootFS returns the read-only root filesystem disk of an image, building
// it from the stored layers if it is missing.
func (s *Store) RootFS(ctx context.Context, id string) (string, error) {
	img, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if _, err := s.unpack(ctx, img.Layers, nil); err != nil {
		return "", err
	}
	return s.rootfsPath(chainID(img.Layers)), nil
}

// prepare readies the layers of an image being pulled or committed and
// returns its size: the flattened root filesystem disk (unpack), or with
// WithLayersOnly one checked pass over each layer (measure). report may
// be nil.
func (s *Store) prepare(ctx context.Context, layers []storage.Layer, report func(storage.Progress)) (int64, error) {
	if s.opts.layersOnly {
		return s.measure(ctx, layers, report)
	}
	return s.unpack(ctx, layers, report)
}

// prepared tells whether prepare has nothing left to do for layers whose
// image is recorded: the disk exists, or no disk is kept.
func (s *Store) prepared(layers []storage.Layer) bool {
	if s.opts.layersOnly {
		return true
	}
	_, err := os.Stat(s.rootfsPath(chainID(layers)))
	return err == nil
}

// measure reads each layer through, checking its diff ID, and sums the
// sizes of the regular files the layers hold (in 4 KiB blocks, as usage
// counts a tree). A layer blob measured before by this process against
// the same diff ID is not read again. report may be nil.
func (s *Store) measure(ctx context.Context, layers []storage.Layer, report func(storage.Progress)) (int64, error) {
	if report == nil {
		report = func(storage.Progress) {}
	}
	var total int64
	for _, l := range layers {
		key := l.Digest + " " + l.DiffID // the blob, and what it was checked to be
		if n, ok := s.measured.Load(key); ok {
			total += n.(int64)
			continue
		}
		n, err := s.measureLayer(ctx, l, report)
		if err != nil {
			return 0, err
		}
		s.measured.Store(key, n)
		total += n
	}
	return total, nil
}

func (s *Store) measureLayer(ctx context.Context, l storage.Layer, report func(storage.Progress)) (int64, error) {
	id := shortID(digest.Digest(l.Digest))
	ra, err := s.content.ReaderAt(ctx, ocispec.Descriptor{Digest: digest.Digest(l.Digest), Size: l.Size})
	if err != nil {
		return 0, fmt.Errorf("open layer %s: %w", l.Digest, err)
	}
	defer ra.Close()
	pr := &progressReader{r: io.NewSectionReader(ra, 0, ra.Size()), total: ra.Size(), report: func(cur int64) {
		report(storage.Progress{ID: id, Status: "Extracting", Current: cur, Total: ra.Size()})
	}}
	ds, err := compression.DecompressStream(pr)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer ds.Close()
	verifier := digest.Canonical.Digester()
	tr := tar.NewReader(io.TeeReader(ds, verifier.Hash()))
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read layer %s: %w", l.Digest, err)
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			size += (h.Size + 4095) &^ 4095
		}
	}
	// Padding after the tar end marker counts in the digest too.
	if _, err := io.Copy(verifier.Hash(), ds); err != nil {
		return 0, fmt.Errorf("read layer %s: %w", l.Digest, err)
	}
	if got := verifier.Digest().String(); got != l.DiffID {
		return 0, fmt.Errorf("layer %s: diff ID %s does not match the image config's %s", l.Digest, got, l.DiffID)
	}
	report(storage.Progress{ID: id, Status: "Pull complete"})
	return size, nil
}

// unpack makes sure the rootfs disk for layers exists and returns the
// unpacked size. report may be nil.
func (s *Store) unpack(ctx context.Context, layers []storage.Layer, report func(storage.Progress)) (int64, error) {
	if report == nil {
		report = func(storage.Progress) {}
	}
	chain := chainID(layers)
	unlock := s.locks.lock("rootfs-" + chain.String())
	defer unlock()
	disk := s.rootfsPath(chain)
	sizeFile := disk + ".size"
	if _, err := os.Stat(disk); err == nil {
		if s.checked(chain) {
			return readSize(sizeFile), nil
		}
		if err := checkDisk(disk); err != nil {
			s.log.Warn("rebuilding root filesystem disk", zap.String("disk", disk), zap.Error(err))
			if err := dropDisk(disk); err != nil {
				return 0, fmt.Errorf("drop bad root filesystem disk: %w", err)
			}
		} else {
			s.markChecked(chain)
			return readSize(sizeFile), nil
		}
	}
	dir, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "unpack-")
	if err != nil {
		return 0, fmt.Errorf("unpack: %w", err)
	}
	defer os.RemoveAll(dir)
	rootDir := filepath.Join(dir, "root")
	if err := os.Mkdir(rootDir, 0o755); err != nil {
		return 0, err
	}
	for _, l := range layers {
		if err := s.applyLayer(ctx, rootDir, l, report); err != nil {
			return 0, err
		}
	}
	size, entries, err := usage(rootDir)
	if err != nil {
		return 0, fmt.Errorf("measure unpacked image: %w", err)
	}
	// Room for ext4's metadata and one inode (default ratio 16 KiB) per
	// entry; the disk is sparse, so generosity costs no space.
	diskSize := size + size/4 + 64<<20
	if need := entries*16384*5/4 + 64<<20; need > diskSize {
		diskSize = need
	}
	tmpDisk := filepath.Join(dir, "rootfs.ext4")
	mkfsStart := time.Now()
	if err := ext4.Make(ctx, tmpDisk, diskSize, rootDir, ""); err != nil {
		return 0, fmt.Errorf("build root filesystem disk: %w", err)
	}
	// The size first: a disk in place always has its size beside it.
	if err := writeFileAtomic(sizeFile, []byte(fmt.Sprint(size))); err != nil {
		return 0, fmt.Errorf("record unpacked size: %w", err)
	}
	// Durable content before the name: a crash never leaves a torn disk
	// under the name every container of the image boots from.
	if err := atomicfile.SyncFile(tmpDisk); err != nil {
		return 0, fmt.Errorf("build root filesystem disk: %w", err)
	}
	if err := os.Rename(tmpDisk, disk); err != nil {
		return 0, fmt.Errorf("install root filesystem disk: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(disk)); err != nil {
		return 0, fmt.Errorf("install root filesystem disk: %w", err)
	}
	if err := sealDisk(disk); err != nil {
		return 0, err
	}
	s.markChecked(chain)
	s.log.Debug("built root filesystem", zap.String("chain", chain.String()), zap.Int64("bytes", size), zap.Int64("entries", entries), zap.Duration("mkfs", time.Since(mkfsStart)))
	return size, nil
}

// ApplyLayer applies one stored layer of an image to the directory root:
// its diff over what root holds, whiteouts included, checking the diff
// ID. The vSphere image store writes each layer into its own disk with
// it.
func (s *Store) ApplyLayer(ctx context.Context, root string, l storage.Layer) error {
	return s.applyLayer(ctx, root, l, func(storage.Progress) {})
}

// applyLayer extracts one stored layer blob into root, checking its diff ID.
func (s *Store) applyLayer(ctx context.Context, root string, l storage.Layer, report func(storage.Progress)) error {
	id := shortID(digest.Digest(l.Digest))
	ra, err := s.content.ReaderAt(ctx, ocispec.Descriptor{Digest: digest.Digest(l.Digest), Size: l.Size})
	if err != nil {
		return fmt.Errorf("open layer %s: %w", l.Digest, err)
	}
	defer ra.Close()
	pr := &progressReader{r: io.NewSectionReader(ra, 0, ra.Size()), total: ra.Size(), report: func(cur int64) {
		report(storage.Progress{ID: id, Status: "Extracting", Current: cur, Total: ra.Size()})
	}}
	ds, err := compression.DecompressStream(pr)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer ds.Close()
	verifier := digest.Canonical.Digester()
	if _, err := archive.Apply(ctx, root, io.TeeReader(ds, verifier.Hash())); err != nil {
		return fmt.Errorf("apply layer %s: %w", l.Digest, err)
	}
	// Drain padding after the tar end marker so the digest covers it all.
	if _, err := io.Copy(verifier.Hash(), ds); err != nil {
		return fmt.Errorf("read layer %s: %w", l.Digest, err)
	}
	if got := verifier.Digest().String(); got != l.DiffID {
		return fmt.Errorf("layer %s: diff ID %s does not match the image config's %s", l.Digest, got, l.DiffID)
	}
	report(storage.Progress{ID: id, Status: "Pull complete"})
	return nil
}

// usage sums the sizes of regular files (in 4 KiB blocks) and counts entries.
func usage(root string) (size, entries int64, err error) {
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		entries++
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			size += (info.Size() + 4095) &^ 4095
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return size, entries, err
}

func readSize(path string) int64 {
	var size int64
	if b, err := os.ReadFile(path); err == nil {
		fmt.Sscan(string(b), &size)
	}
	return size
}

// checked reports whether this process already verified chain's disk.
func (s *Store) checked(chain digest.Digest) bool {
	_, ok := s.verified.Load(chain)
	return ok
}

func (s *Store) markChecked(chain digest.Digest) { s.verified.Store(chain, true) }
