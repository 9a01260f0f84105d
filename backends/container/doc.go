// Package container is the docker personality of container VMs: it serves
// the container.Backend the daemon's /containers routes consume, expressing
// docker's semantics (names, ID prefixes, image config merging, stop
// timeouts, AutoRemove, inspect and ps shapes, stream framing) as calls on
// the compute port layer.
//
// Docker's view of a container (its Config, HostConfig, name, creation
// time, start errors) is Meta, stored by the port layer inside the VM
// definition (compute.Spec.Meta); the in-memory name index is rebuilt from
// compute.List by New, so a vchd restart loses nothing.
//
// Callers' checklist:
//  1. New(Config) — rebuilds the index, removes AutoRemove containers that
//     exited while vchd was down, starts those whose restart policy asks
//     for it, and watches the running ones.
//  2. Serve the daemon with the returned *Backend.
//  3. Close() on shutdown to stop the watchers (AutoRemove, restart
//     policy); containers keep running.
//
// Decisions that are pure (stop sequence, restart policy and back-off,
// docker state and status text, config merging, start-error classes,
// filters) live in their own files as
// plain functions with table tests; the methods are thin drivers.
package container
