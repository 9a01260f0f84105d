// Package backends is vch's docker personality: docker's semantics
// (names, tags, filters, inspect shapes, stream framing, progress streams)
// expressed as calls on the port layer. It implements the Backend
// interfaces the daemon's routers declare and nothing else of daemon/.
//
// Wiring (cmd/vchd):
//
//	b, err := backends.New(backends.Config{Name: ..., Root: ..., Compute: provider, Images: store, Logger: log, ...})
//	defer b.Close()
//	daemon routes: b.Containers(), b.Images(), b.System()
//
// New rebuilds every index from the port layer (compute.List) and the tag
// store under Root, so a restarted vchd sees every container and tag again.
// Subpackages: container, image, system (the three Backends), names
// (container names and ID resolution), reference (the persisted tag store),
// filters (ps and images filters).
package backends
