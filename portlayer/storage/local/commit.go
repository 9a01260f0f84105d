package local

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/vchproject/vch/portlayer/storage"
)

// Media types of docker's schema 2, used when the parent's manifest is one.
const (
	dockerManifestType = "application/vnd.docker.distribution.manifest.v2+json"
	dockerConfigType   = "application/vnd.docker.container.image.v1+json"
	dockerLayerType    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// Commit stores a new image: the parent's layers plus opts.Layer, gzipped
// into the content store, with the config opts.Config gives and a
// manifest in the parent's format, so the image can be pushed like a
// pulled one. Its root filesystem disk is built at once.
func (s *Store) Commit(ctx context.Context, opts storage.CommitOptions) (storage.Image, error) {
	parent, err := s.readRecord(opts.Parent)
	if err != nil {
		return storage.Image{}, err
	}
	held := []string{}
	for _, d := range parent.blobs() {
		held = append(held, d.String())
	}
	release := s.hold(held...)
	defer release()
	pm, err := s.readManifest(ctx, parent)
	if err != nil {
		return storage.Image{}, err
	}

	// The layer: gzip it into a temporary file, hashing both forms.
	tmp, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "commit-")
	if err != nil {
		return storage.Image{}, fmt.Errorf("commit: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	diffDigester, blobDigester := digest.Canonical.Digester(), digest.Canonical.Digester()
	zw := gzip.NewWriter(io.MultiWriter(tmp, blobDigester.Hash()))
	if _, err := io.Copy(io.MultiWriter(zw, diffDigester.Hash()), opts.Layer); err != nil {
		return storage.Image{}, fmt.Errorf("commit: read the container's layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return storage.Image{}, fmt.Errorf("commit: compress layer: %w", err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return storage.Image{}, err
	}
	diffID, blobDigest := diffDigester.Digest(), blobDigester.Digest()

	oci := pm.MediaType == ocispec.MediaTypeImageManifest
	layerType, configType, manifestType := dockerLayerType, dockerConfigType, dockerManifestType
	if oci {
		layerType, configType, manifestType = ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	}
	layerDesc := ocispec.Descriptor{MediaType: layerType, Digest: blobDigest, Size: size}
	release2 := s.hold(blobDigest.String())
	defer release2()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return storage.Image{}, err
	}
	if err := content.WriteBlob(ctx, s.content, "vch-"+blobDigest.Encoded(), tmp, layerDesc); err != nil && !cerrdefs.IsAlreadyExists(err) {
		return storage.Image{}, fmt.Errorf("commit: store layer: %w", err)
	}

	configBytes, err := opts.Config(diffID.String())
	if err != nil {
		return storage.Image{}, err
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(configBytes, &cfg); err != nil {
		return storage.Image{}, fmt.Errorf("commit: decode new config: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(parent.Layers)+1 || cfg.RootFS.DiffIDs[len(parent.Layers)] != diffID {
		return storage.Image{}, fmt.Errorf("commit: config lists %d diff IDs for %d layers", len(cfg.RootFS.DiffIDs), len(parent.Layers)+1)
	}
	configDesc := ocispec.Descriptor{MediaType: configType, Digest: digest.FromBytes(configBytes), Size: int64(len(configBytes))}
	m := struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Config        ocispec.Descriptor   `json:"config"`
		Layers        []ocispec.Descriptor `json:"layers"`
	}{SchemaVersion: 2, MediaType: manifestType, Config: configDesc, Layers: append(append([]ocispec.Descriptor(nil), pm.Layers...), layerDesc)}
	for i := range m.Layers {
		m.Layers[i].Annotations = nil
	}
	mb, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		return storage.Image{}, err
	}
	manifestDesc := ocispec.Descriptor{MediaType: manifestType, Digest: digest.FromBytes(mb), Size: int64(len(mb))}
	id := configDesc.Digest.String()
	release3 := s.hold(id, manifestDesc.Digest.String())
	defer release3()
	if err := s.storeBlob(ctx, configDesc, configBytes); err != nil {
		return storage.Image{}, err
	}
	if err := s.storeBlob(ctx, manifestDesc, mb); err != nil {
		return storage.Image{}, err
	}

	layers := append(append([]storage.Layer(nil), parent.Layers...), storage.Layer{Digest: blobDigest.String(), DiffID: diffID.String(), Size: size, MediaType: layerType})
	rec := record{Image: storage.Image{
		ID:             id,
		ManifestDigest: manifestDesc.Digest.String(),
		Config:         configBytes,
		Layers:         layers,
		Parent:         parent.ID,
	}}
	held = []string{chainID(layers).String()}
	for _, d := range rec.blobs() {
		held = append(held, d.String())
	}
	release4 := s.hold(held...)
	defer release4()
	unpacked, err := s.prepare(ctx, layers, nil)
	if err != nil {
		return storage.Image{}, err
	}
	rec.Size, rec.Pulled = unpacked, time.Now().UTC()
	if cfg.Created != nil {
		rec.Created = *cfg.Created
	}
	// A push to the parent's registry mounts the parent's layers.
	rec.Sources = parent.Sources
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeRecord(rec); err != nil {
		return storage.Image{}, fmt.Errorf("record image %s: %w", id, err)
	}
	s.log.Info("committed image", zap.String("id", id), zap.String("parent", parent.ID), zap.String("layer", blobDigest.String()), zap.Int64("bytes", size))
	return rec.Image, nil
}

// readManifest reads the manifest image r was pulled (or committed) with.
func (s *Store) readManifest(ctx context.Context, r record) (ocispec.Manifest, error) {
	mb, err := content.ReadBlob(ctx, s.content, ocispec.Descriptor{Digest: digest.Digest(r.ManifestDigest)})
	if err != nil {
		return ocispec.Manifest{}, fmt.Errorf("image %s: manifest: %w", r.ID, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("image %s: manifest: %w", r.ID, err)
	}
	if m.MediaType == "" && strings.Contains(string(mb), ocispec.MediaTypeImageConfig) {
		m.MediaType = ocispec.MediaTypeImageManifest
	}
	if len(m.Layers) != len(r.Layers) {
		return ocispec.Manifest{}, fmt.Errorf("image %s: manifest has %d layers, the image %d", r.ID, len(m.Layers), len(r.Layers))
	}
	return m, nil
}
