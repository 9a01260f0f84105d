// Package local is the port layer's image store on the local disk, the
// embedded default. It implements storage.Store:
//
//   - Pull resolves a reference with containerd's docker resolver (plain
//     HTTP for registries on loopback, as Docker does), fetches the manifest
//     (choosing linux/amd64 from an index), the config and the layers into a
//     content-addressed store (containerd's local content store), so a blob
//     shared by two images is stored once, and reports docker's progress
//     texts on the way.
//   - The layers are applied in order with containerd's archive.Apply
//     (whiteouts, path-escape checks) into a scratch directory, which
//     becomes a read-only ext4 disk keyed by the top layer's chain ID: every
//     container VM of that image boots from that one disk.
//   - Image records (storage.Image) are JSON files written atomically.
//
// Layout under root: content/ (blobs), images/<id>.json, rootfs/<chainid>.ext4.
package local
