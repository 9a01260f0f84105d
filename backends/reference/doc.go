// Package reference is the docker personality's tag store: it maps image
// references ("127.0.0.1:5000/busybox:latest", "busybox@sha256:...") to
// image IDs ("sha256:<config digest>"). The port layer's image store knows
// images only by ID; names are docker's business and live here.
//
// The store is one JSON file, rewritten atomically (temporary file, fsync,
// rename) on every change, so a vchd restart finds every tag again. Callers
// pass normalized references (reference.ParseNormalizedNamed); a name
// without tag or digest is stored as ":latest".
package reference
