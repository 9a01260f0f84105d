// Package image is the docker personality of the image store: it serves
// the image.Backend the daemon's /images routes consume (pull with docker's
// JSON progress stream, list, inspect, tag, delete) on top of the port
// layer's storage.Store, which knows images only by ID, and of the tag store
// in backends/reference, which holds every name.
//
// It also resolves what a user typed as an image (a name with or without
// tag, repo@digest, a full "sha256:" ID or a unique ID prefix), the way
// docker does, for the container backend (Resolve). Container usage of an
// image (for rmi conflicts and counts) is read from the compute port layer:
// Spec.Image is the image ID every container VM boots.
//
// Callers: New once, with the same reference store the rest of vchd uses.
package image
