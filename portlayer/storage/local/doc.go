// Package local is the port layer's image store on the local disk, the
// embedded default. It implements storage.Store and passes storagetest.
//
//   - Pull resolves a reference with containerd's docker resolver (plain
//     HTTP for registries on loopback, as Docker does; WithPlainHTTP
//     changes that; PullOptions.Auth becomes the resolver's credentials),
//     walks an index or manifest list to the platform's manifest with
//     containerd's image handlers (ChildrenHandler, FilterPlatforms,
//     LimitManifests, Dispatch), then fetches config and layers into
//     containerd's local content store, so a blob shared by two images is
//     stored once. Layers download three at a time with docker's progress
//     texts ("Pulling fs layer", "Waiting", "Downloading", "Verifying
//     Checksum", "Download complete", "Extracting", "Pull complete",
//     "Already exists").
//   - The layers are applied in order with containerd's archive.Apply
//     (whiteouts, path-escape checks), each checked against its diff ID,
//     into a scratch directory that mkfs.ext4 -d turns into a read-only
//     disk keyed by the top layer's chain ID: images with the same layers
//     share one disk, and every container VM of an image boots from it. The
//     disk is built under tmp/ and renamed into place.
//   - Image records (storage.Image, plus the digests of indexes and of
//     earlier manifests of the same image) are JSON files written
//     atomically. Remove deletes a record, then every blob and disk no
//     remaining image and no running pull uses; with no pull running it
//     sweeps the whole store, so what failed pulls left goes too.
//   - Errors: unknown repositories, tags and platforms are errdefs
//     NotFound with docker's texts; unreachable registries Unavailable;
//     refused credentials Unauthorized or Forbidden.
//
// Concurrent pulls in one process are safe (per-blob and per-disk locks).
// One Store owns its root: two processes must not share it.
//
// Layout under root: content/ (blobs), images/<id>.json,
// rootfs/<chainid>.ext4 (+ .size, the unpacked size), tmp/ (cleared on New).
package local
